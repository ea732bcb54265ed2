// tr46 (UTS #46 IDNA) for whatwg-url, loaded only when a host name needs it.
// The real tables are ~230 KB of source; nearly every URL a script builds has an ASCII host,
// for which UTS #46 processing (non-strict, as URL parsing uses it) is plain lower-casing,
// so the tables would only slow every isolate's start. Hosts with non-ASCII or `xn--` labels
// go through the real tr46.
'use strict'

let real = null
function tr46() {
  if (real === null) real = require('../../node_modules/tr46/index.js')
  return real
}

const SIMPLE_ASCII = /^[\x21-\x7e]*$/

function isSimple(domain) {
  return SIMPLE_ASCII.test(domain) && !/(^|\.)xn--/i.test(domain)
}

exports.toASCII = function toASCII(domain, options) {
  return isSimple(domain) ? domain.toLowerCase() : tr46().toASCII(domain, options)
}

exports.toUnicode = function toUnicode(domain, options) {
  return isSimple(domain) ? { domain: domain.toLowerCase(), error: false } : tr46().toUnicode(domain, options)
}
