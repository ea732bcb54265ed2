// WHATWG Response (whole bodies), with Response.json, Response.redirect and Response.error.
import { Body, cloneBody, extractBody, kBody } from './body.js'
import { Headers, defaultContentType } from './headers.js'
import { webUrl } from './url.js'
import { brand } from './lazy.js'

const kUrl = Symbol('url')
const kRedirected = Symbol('redirected')
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])

/** The init of a Response made without one: read only, so one serves them all. */
const NO_INIT = Object.freeze({})

export class Response extends Body {
  #status
  #statusText
  #headers
  #type

  constructor(body = null, init = NO_INIT) {
    super()
    const status = init.status === undefined ? 200 : Number(init.status)
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`Response: status ${init.status} is outside the range 200 to 599`)
    }
    this.#status = status
    this.#statusText = init.statusText === undefined ? '' : String(init.statusText)
    this.#headers = new Headers(init.headers)
    this.#type = 'default'
    const extracted = extractBody(body)
    if (extracted.body !== null && NULL_BODY_STATUSES.has(status)) {
      throw new TypeError(`Response: status ${status} cannot have a body`)
    }
    if (extracted.contentType) defaultContentType(this.#headers, extracted.contentType)
    this[kBody] = extracted.body
  }

  static json(data, init = {}) {
    const text = JSON.stringify(data)
    if (text === undefined) throw new TypeError('Response.json: data is not JSON-serializable')
    const headers = new Headers(init.headers)
    if (!headers.has('content-type')) headers.set('content-type', 'application/json')
    return new Response(text, { ...init, headers })
  }

  static redirect(url, status = 302) {
    if (!REDIRECT_STATUSES.has(status)) throw new RangeError(`Response.redirect: invalid status ${status}`)
    return new Response(null, { status, headers: { location: new (webUrl().URL)(String(url)).href } })
  }

  static error() {
    const response = new Response(null, { status: 200 })
    response.#status = 0
    response.#type = 'error'
    return response
  }

  get status() { return this.#status }
  get statusText() { return this.#statusText }
  get ok() { return this.#status >= 200 && this.#status <= 299 }
  get headers() { return this.#headers }
  get type() { return this.#type }
  get redirected() { return this[kRedirected] === true }
  get url() { return this[kUrl] ?? '' }
  get [Symbol.toStringTag]() { return 'Response' }

  clone() {
    const copy = new Response(null, { status: this.#status === 0 ? 200 : this.#status, statusText: this.#statusText, headers: this.#headers })
    copy[kBody] = cloneBody(this)
    return copy
  }
}

brand(Response)

/** The Response of an outbound fetch, from the host's plain answer `{ url, status, statusText, headers, body, redirected }`. */
export function responseFromHost(data) {
  const status = Number(data.status)
  const body = NULL_BODY_STATUSES.has(status) || data.body === null || data.body === undefined ? null : data.body
  const response = new Response(null, { status, statusText: data.statusText, headers: data.headers })
  response[kBody] = body === null ? null : body instanceof Uint8Array ? body : new Uint8Array(body)
  Object.defineProperty(response, kUrl, { value: String(data.url ?? '') })
  Object.defineProperty(response, kRedirected, { value: data.redirected === true })
  return response
}
