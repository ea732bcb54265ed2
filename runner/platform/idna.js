// tr46 (UTS #46 IDNA) for whatwg-url, which calls only `toASCII`, for each special URL's host.
// The real tr46 is ~230 KB of mapping tables, which every isolate would hold as source: the host
// has them instead (runner/idna.ts, same function and options). Nearly every URL a script builds
// has an ASCII host, for which UTS #46 processing (non-strict, as URL parsing uses it) is plain
// lower-casing: those never leave the isolate. Hosts with non-ASCII or `xn--` labels go to the host.
import { hostToASCII } from './runtime.js'

const SIMPLE_ASCII = /^[\x21-\x7e]*$/
const PUNYCODE_LABEL = /(^|\.)xn--/i

function isSimple(domain) {
  return SIMPLE_ASCII.test(domain) && !PUNYCODE_LABEL.test(domain)
}

/** The ASCII form of `domain`, or null when it is not a valid domain. `options` are whatwg-url's, fixed. */
export function toASCII(domain) {
  return isSimple(domain) ? domain.toLowerCase() : hostToASCII(domain)
}
