// whatwg-url (URL, URLSearchParams), initialised on first use: building its WebIDL wrappers costs
// about 0.5 ms, which every new context would pay although most programs never parse a URL until
// a request arrives. `require` stays lazy in the esbuild bundle.
import { brand } from './lazy.js'

let whatwg = null

export function whatwgUrl() {
  if (whatwg === null) {
    whatwg = require('whatwg-url')
    brand(whatwg.URL, whatwg.URLSearchParams)
  }
  return whatwg
}

/** Whether `value` is a URLSearchParams, without loading whatwg-url when no instance can exist. */
export function isURLSearchParams(value) {
  return whatwg !== null && value instanceof whatwg.URLSearchParams
}
