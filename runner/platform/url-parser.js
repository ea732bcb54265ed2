// whatwg-url's URL state machine (the URL Standard's basic URL parser) and what only it needs: a
// chunk loaded when url-record.js's fast path does not take an input, or a setter or a base URL
// asks for the full parser.
import usm from 'whatwg-url/lib/url-state-machine.js'

export const { basicURLParse, serializeHost, serializeURLOrigin, setTheUsername, setThePassword } = usm
