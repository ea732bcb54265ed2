import { EgressError } from './errors.js'

/** An outbound request as plain data, as it is copied out of an isolate. */
export interface OutboundRequest {
  url: string
  method: string
  headers: Array<[string, string]>
  body: Uint8Array | string | null
  /** As in fetch: 'follow' (default) re-checks and follows up to maxRedirects; 'manual' answers the 3xx. */
  redirect?: 'follow' | 'manual' | 'error'
}

/** The answer as plain data, copied into the isolate. `body` is complete (never a stream). */
export interface OutboundResponse {
  /** The URL of the last hop, without its fragment. */
  url: string
  status: number
  statusText: string
  /** In the order received, names lowercase, repeated names repeated (set-cookie). */
  headers: Array<[string, string]>
  body: Uint8Array
  redirected: boolean
}

/** A request checked and normalized: what one hop sends. */
export interface PreparedRequest {
  readonly url: URL
  readonly method: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Uint8Array | null
  readonly redirect: 'follow' | 'manual' | 'error'
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// Header values may not carry CR, LF or NUL (request smuggling, header injection).
const BAD_VALUE = /[\r\n\0]/
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK'])
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'])

/**
 * Headers the client sets or that only make sense per connection: a script's values are dropped.
 * `host` follows the URL (so it always names the host that was checked) and `content-length`
 * follows the body; `accept-encoding` is replaced by identity because bodies are passed on as
 * received, and a decompressed size could not be capped before inflating.
 */
const DROPPED_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
  'content-length',
  'expect',
  'accept-encoding',
])

/**
 * Checks an outbound request copied out of an isolate (every field is untrusted) and prepares it:
 * method normalized as fetch does, hop-by-hop and client-owned headers dropped, the body as bytes.
 *
 * @example
 * prepareRequest({ url: 'https://api.example.com/x', method: 'post', headers: [['content-type', 'text/plain']], body: 'hi' }, 1024)
 * // { url: URL, method: 'POST', headers: [['content-type', 'text/plain'], ['accept-encoding', 'identity']], body: Uint8Array(2), redirect: 'follow' }
 */
export function prepareRequest(request: OutboundRequest, maxRequestBytes: number): PreparedRequest {
  if (request === null || typeof request !== 'object') invalid('the request must be an object')
  const url = parseUrl(request.url)
  const method = prepareMethod(request.method)
  const redirect = request.redirect ?? 'follow'
  if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') {
    invalid(`redirect must be 'follow', 'manual' or 'error', got ${JSON.stringify(redirect)}`)
  }
  const body = prepareBody(request.body, maxRequestBytes)
  if (body !== null && (method === 'GET' || method === 'HEAD')) invalid(`a ${method} request cannot have a body`)
  return { url, method, headers: prepareHeaders(request.headers), body, redirect }
}

function parseUrl(value: unknown): URL {
  if (typeof value !== 'string') invalid('url must be a string')
  if (!URL.canParse(value)) invalid(`${JSON.stringify(value.slice(0, 200))} is not a valid absolute URL`)
  return new URL(value)
}

function prepareMethod(value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) invalid(`method must be an HTTP token, got ${JSON.stringify(value)}`)
  const upper = value.toUpperCase()
  if (FORBIDDEN_METHODS.has(upper)) invalid(`method ${upper} is not allowed`)
  return NORMALIZED_METHODS.has(upper) ? upper : value
}

function prepareHeaders(value: unknown): Array<[string, string]> {
  if (value === undefined || value === null) return [['accept-encoding', 'identity']]
  if (!Array.isArray(value)) invalid('headers must be a list of [name, value] pairs')
  const pairs: Array<[string, string]> = []
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      invalid('headers must be a list of [name, value] pairs of strings')
    }
    const name = pair[0].toLowerCase()
    if (!TOKEN.test(name)) invalid(`${JSON.stringify(pair[0])} is not a valid header name`)
    if (BAD_VALUE.test(pair[1])) invalid(`the value of header ${name} contains CR, LF or NUL`)
    pairs.push([name, pair[1].trim()])
  }
  // Names a script lists in Connection are hop-by-hop by its own declaration (RFC 9110 7.6.1).
  const connectionNamed = new Set(
    pairs.filter(([name]) => name === 'connection').flatMap(([, v]) => v.split(',').map((n) => n.trim().toLowerCase())),
  )
  const kept = pairs.filter(([name]) => !DROPPED_HEADERS.has(name) && !connectionNamed.has(name))
  kept.push(['accept-encoding', 'identity'])
  return kept
}

function prepareBody(value: unknown, maxRequestBytes: number): Uint8Array | null {
  if (value === null || value === undefined) return null
  let bytes: Uint8Array
  if (typeof value === 'string') bytes = new TextEncoder().encode(value)
  else if (value instanceof Uint8Array) bytes = value
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value)
  else invalid('body must be a string, bytes or null')
  if (bytes.byteLength > maxRequestBytes) {
    throw new EgressError('EGRESS_REQUEST_TOO_LARGE', `the request body is ${bytes.byteLength} bytes, over the ${maxRequestBytes}-byte limit`)
  }
  return bytes
}

function invalid(reason: string): never {
  throw new EgressError('EGRESS_INVALID_REQUEST', reason)
}
