// WHATWG Request (whole bodies). `params` carries the route's named parameters.
import { Body, cloneBody, extractBody, kBody } from './body.js'
import { Headers, headersFromHost } from './headers.js'
import { abort, brand } from './lazy.js'
import { webUrl } from './url.js'
import { pairsFromHeaderText } from '../header-text.js'

const METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'])
const FORBIDDEN = new Set(['CONNECT', 'TRACE', 'TRACK'])

function normalizeMethod(method) {
  const upper = String(method).toUpperCase()
  if (FORBIDDEN.has(upper)) throw new TypeError(`Request: method ${method} is forbidden`)
  return METHODS.has(upper) ? upper : String(method)
}

/** The params of every request without any: frozen, so one serves them all. */
const NO_PARAMS = Object.freeze({})

/**
 * A frozen copy of `object`'s enumerable properties; `empty` (frozen, shared) when it has none,
 * as most runs' env and params do: no copy and no freeze a run.
 */
export function frozenCopy(object, empty) {
  if (object === null || object === undefined) return empty
  for (const _ in object) return Object.freeze({ ...object })
  return empty
}

/** The constructor's input for a Request that `fromHost` fills in: unreachable from scripts. */
const FROM_HOST = Symbol('fromHost')
/** The host's request as a Request (set in the class's static block). */
let fromHost
/**
 * A request's headers as the host sent them, as text (runner/header-text.ts), parsed the
 * first time the script reads `request.headers`.
 */
export class HeaderText {
  constructor(text) {
    this.text = text
  }
}

export class Request extends Body {
  #method
  #url
  #headers
  #signal
  #redirect
  #params

  constructor(input, init = {}) {
    super()
    if (input === FROM_HOST) return
    let base = null
    let url
    if (input instanceof Request) url = (base = input).url
    else url = new (webUrl().URL)(String(input)).href
    this.#url = url
    this.#method = normalizeMethod(init.method ?? (base ? base.method : 'GET'))
    this.#headers = new Headers(init.headers ?? (base ? base.headers : undefined))
    this.#redirect = init.redirect ?? (base ? base.redirect : 'follow')
    const signal = init.signal ?? (base ? base.signal : null)
    if (signal !== null && !(signal instanceof abort().AbortSignal)) throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.")
    this.#signal = signal
    this.#params = frozenCopy(init.params ?? (base ? base.params : null), NO_PARAMS)
    let body = null
    if (init.body !== undefined && init.body !== null) {
      if (this.#method === 'GET' || this.#method === 'HEAD') throw new TypeError('Request with GET/HEAD method cannot have body')
      const extracted = extractBody(init.body)
      body = extracted.body
      if (extracted.contentType && !this.headers.has('content-type')) this.headers.set('content-type', extracted.contentType)
    } else if (base) {
      body = cloneBody(base)
    }
    this[kBody] = body
  }

  get method() { return this.#method }
  get url() { return this.#url }
  get headers() {
    const headers = this.#headers
    if (headers instanceof HeaderText) return (this.#headers = headersFromHost(pairsFromHeaderText(headers.text)))
    return headers
  }
  get redirect() { return this.#redirect }
  get signal() { return (this.#signal ??= abort().neverAbortedSignal()) }
  /** Named route parameters, e.g. `{ id: '42' }` for the route `/orders/:id`. */
  get params() { return this.#params }
  get [Symbol.toStringTag]() { return 'Request' }

  clone() {
    return new Request(this)
  }

  static {
    // Field by field, no input or init objects: a run makes one, in code that is mostly not
    // optimized yet (each tenant's isolate has its own copy of the platform).
    fromHost = (url, method, headers, params, body) => {
      const request = new Request(FROM_HOST)
      request.#url = url
      request.#method = method
      request.#headers = headers
      request.#redirect = 'follow'
      request.#signal = null
      request.#params = params
      request[kBody] = body
      return request
    }
  }
}

brand(Request)

/**
 * The Request a fetch handler receives. The gateway built and validated its URL already, so it is
 * not parsed again here: that keeps the URL parser from loading in runs that never touch a URL.
 */
export function requestFromHost(data, body) {
  const pairs = data.headers
  // Text or pairs of strings are taken as they are; anything else goes through the Headers constructor's checks.
  const hostHeaders = pairs instanceof HeaderText ? pairs
    : Array.isArray(pairs) && pairs.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && typeof pair[1] === 'string') ? headersFromHost(pairs)
    : null
  return fromHost(String(data.url), normalizeMethod(data.method ?? 'GET'), hostHeaders ?? new Headers(pairs), frozenCopy(data.params, NO_PARAMS), body)
}
