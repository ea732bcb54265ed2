// URL and URLSearchParams (url-standard.js), initialised on first use: most programs never parse a
// URL of their own (a request's URL comes parsed by the gateway), so new contexts do not build the
// parser. `require` stays lazy in the esbuild bundle.

let standard = null

export function webUrl() {
  return (standard ??= require('./url-standard.js'))
}

/** Whether `value` is a URLSearchParams, without loading the parser when no instance can exist. */
export function isURLSearchParams(value) {
  return standard !== null && value instanceof standard.URLSearchParams
}
