// fetch() and ctx.http: outbound HTTP through the host's guarded client (the host API
// 'http.fetch', answered by the gateway with SSRF checks, timeouts and a size cap). The platform
// turns a Request into plain data and the host's plain answer into a Response: nothing else
// crosses. A refusal rejects with an Error whose `code` says why (EGRESS_DENIED, ...).
import { bodyBytes, isReadableStream, kBody } from './body.js'
import { headerPairs } from './headers.js'
import { domException } from './lazy.js'
import { Request } from './request.js'
import { Response, responseFromHost } from './response.js'
import { current, hostCall, newPromise, then } from './runtime.js'
import { isURLSearchParams } from './url.js'

function rejected(error) {
  return newPromise((resolve, reject) => reject(error))
}

function abortError(signal) {
  return signal.reason !== undefined ? signal.reason : new (domException())('This operation was aborted', 'AbortError')
}

/** fetch(input, init) for `run`: the host call is counted against the run's API calls. */
export function fetchFor(run, input, init) {
  if (run === null || run.done) return rejected(new TypeError('fetch can only be called while a run is in progress'))
  let request
  try {
    request = new Request(input, init)
  } catch (error) {
    return rejected(error)
  }
  const signal = init?.signal ?? (input instanceof Request ? input.signal : null)
  if (signal && signal.aborted) return rejected(abortError(signal))
  const body = request[kBody]
  const send = (bytes) => hostCall(run, 'http.fetch', [{ url: request.url, method: request.method, headers: headerPairs(request.headers), body: bytes, redirect: request.redirect }])
  // A stream body (`new Request(url, request)` passes the incoming body on as one) is read whole
  // first: the host's client takes bytes, and only plain data crosses.
  const answer = then(isReadableStream(body) ? then(bodyBytes(request), send) : send(body), responseFromHost)
  if (!signal) return answer
  // The host's request goes on until the run ends; the script stops waiting now.
  return newPromise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(abortError(signal)), { once: true })
    then(answer, resolve, reject)
  })
}

/** The global fetch: for the run whose code is executing. */
export function fetch(input, init = undefined) {
  return fetchFor(current, input, init)
}

function isPlainData(body) {
  if (body === null || body === undefined || typeof body !== 'object') return false
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return false
  if (isURLSearchParams(body)) return false
  return true
}

/** A body for ctx.http.post/put: objects and arrays are sent as JSON. */
function withBody(method, body, init = {}) {
  if (!isPlainData(body)) return { ...init, method, body }
  const headers = new (globalThis.Headers)(init.headers)
  if (!headers.has('content-type')) headers.set('content-type', 'application/json')
  return { ...init, method, headers, body: JSON.stringify(body) }
}

/** ctx.http: fetch with a verb per method; each answers a Response. */
export function createHttp(run) {
  return Object.freeze({
    fetch: (input, init) => fetchFor(run, input, init),
    get: (url, init = {}) => fetchFor(run, url, { ...init, method: 'GET' }),
    delete: (url, init = {}) => fetchFor(run, url, { ...init, method: 'DELETE' }),
    post: (url, body, init) => fetchFor(run, url, withBody('POST', body, init)),
    put: (url, body, init) => fetchFor(run, url, withBody('PUT', body, init)),
    patch: (url, body, init) => fetchFor(run, url, withBody('PATCH', body, init)),
  })
}

export { Response }
