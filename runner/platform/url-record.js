// URL records (the URL Standard's "URL", as whatwg-url models it): a fast path of the basic URL
// parser for the URLs scripts parse nearly always, and the serializers. Everything else goes to
// whatwg-url's state machine, a chunk of its own (url-parser.js) that most isolates never load:
// it is the largest part of the platform (~18 KB of source), and allocates ~10 KiB a parse.
//
// The fast path takes only input the state machine would parse without changing or rejecting
// anything: an http(s) or ws(s) URL with a lower-case ASCII domain (no `xn--` label, not ending in
// a number) or an IPv4 address in its own serialization (four decimal numbers of 0-255 without
// leading zeros: the host of every request to a server reached by its address), an optional port,
// and a path, query and fragment made of code points none of which the standard percent-encodes
// there, with no dot segments. Anything else, however common, is the state machine's:
// test/url-standard.test.ts holds both to whatwg-url's own results.

const DEFAULT_PORTS = { __proto__: null, http: 80, https: 443, ws: 80, wss: 443 }

const FAST = new RegExp(
  '^(https?|wss?)://' +
  '([a-z0-9-]+(?:\\.[a-z0-9-]+)*\\.?)' + // host: ASCII domain labels, an optional trailing dot
  '(?::([0-9]{1,5}))?' + // port
  "(/[A-Za-z0-9\\-._~!$&'()*+,;=:@%/]*)?" + // path: nothing the path percent-encode set holds
  '(\\?[A-Za-z0-9\\-._~!$&()*+,;=:@%/?\\[\\]{}|]*)?' + // query: nor the special-query set
  "(#[A-Za-z0-9\\-._~!$&'()*+,;=:@%/?\\[\\]{}|#]*)?$", // fragment: nor the fragment set
)
/** A last label the host parser would read as an IPv4 number (decimal, octal or 0x hex). */
const NUMERIC_LABEL = /(?:^|\.)[0-9][^.]*\.?$/
const PUNYCODE_LABEL = /(?:^|\.)xn--/
/** An IPv4 address as the host serializer writes it. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/
/** Dot segments, also percent-encoded (`%2e`): the state machine resolves them. */
const DOT_SEGMENT = /\/(?:\.|%2e)(?:\.|%2e)?(?=\/|$)/i

/** The URL record for `input`, or null when the fast path does not take it (not: when it is invalid). */
export function fastParse(input) {
  const match = FAST.exec(input)
  if (match === null) return null
  const [, scheme, hostText, portText, pathText, queryText, fragmentText] = match
  let host = hostText
  if (NUMERIC_LABEL.test(hostText)) {
    // whatwg-url's record holds an IPv4 address as its number.
    if (!IPV4.test(hostText)) return null
    const [a, b, c, d] = hostText.split('.')
    host = ((Number(a) * 256 + Number(b)) * 256 + Number(c)) * 256 + Number(d)
  } else if (PUNYCODE_LABEL.test(hostText)) return null
  if (pathText !== undefined && DOT_SEGMENT.test(pathText)) return null
  let port = null
  if (portText !== undefined) {
    port = Number(portText)
    if (port > 65535) return null
    if (port === DEFAULT_PORTS[scheme]) port = null
  }
  return {
    scheme,
    username: '',
    password: '',
    host,
    port,
    path: pathText === undefined ? [''] : pathText.slice(1).split('/'),
    query: queryText === undefined ? null : queryText.slice(1),
    fragment: fragmentText === undefined ? null : fragmentText.slice(1),
  }
}

export function hasAnOpaquePath(url) {
  return typeof url.path === 'string'
}

export function cannotHaveAUsernamePasswordPort(url) {
  return url.host === null || url.host === '' || url.scheme === 'file'
}

export function serializePath(url) {
  if (hasAnOpaquePath(url)) return url.path
  let output = ''
  for (const segment of url.path) output += `/${segment}`
  return output
}

/**
 * The host serializer: a domain, opaque or empty host is itself, an IPv4 address (a number) its
 * four decimal numbers; IPv6 addresses come only from the state machine, so `parser`
 * (url-parser.js) is loaded whenever one exists.
 */
export function serializeHost(host, parser) {
  if (typeof host === 'string') return host
  if (typeof host === 'number') return `${host >>> 24}.${(host >>> 16) & 255}.${(host >>> 8) & 255}.${host & 255}`
  return parser().serializeHost(host)
}

export function serializeURL(url, parser, excludeFragment = false) {
  let output = `${url.scheme}:`
  if (url.host !== null) {
    output += '//'
    if (url.username !== '' || url.password !== '') {
      output += url.username
      if (url.password !== '') output += `:${url.password}`
      output += '@'
    }
    output += serializeHost(url.host, parser)
    if (url.port !== null) output += `:${url.port}`
  }
  if (url.host === null && !hasAnOpaquePath(url) && url.path.length > 1 && url.path[0] === '') output += '/.'
  output += serializePath(url)
  if (url.query !== null) output += `?${url.query}`
  if (!excludeFragment && url.fragment !== null) output += `#${url.fragment}`
  return output
}

/** The ASCII serialization of the URL's origin; `blob:` and the rest are the state machine's. */
export function serializeURLOrigin(url, parser) {
  switch (url.scheme) {
    case 'ftp':
    case 'http':
    case 'https':
    case 'ws':
    case 'wss':
      return `${url.scheme}://${serializeHost(url.host, parser)}${url.port === null ? '' : `:${url.port}`}`
    default:
      return parser().serializeURLOrigin(url)
  }
}
