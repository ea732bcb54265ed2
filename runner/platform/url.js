// URL and URLSearchParams (url-standard.js, a chunk), loaded on first use: most programs never
// parse a URL of their own (a request's URL comes parsed by the gateway), so new contexts do not
// hold the parser.
import { loadChunk } from './chunks.js'

let standard = null

export function webUrl() {
  return (standard ??= loadChunk('url-standard'))
}

/** Whether `value` is a URLSearchParams, without loading the parser when no instance can exist. */
export function isURLSearchParams(value) {
  return standard !== null && value instanceof standard.URLSearchParams
}
