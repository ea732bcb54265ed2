import { EgressError } from './errors.js'
import type { PreparedRequest } from './outbound-request.js'

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/** Headers that describe a body, dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location'])

/** Credentials meant for one origin, dropped when a redirect leaves it. */
const ORIGIN_CREDENTIALS = new Set(['authorization', 'cookie', 'proxy-authorization'])

/** Whether a status with a Location is a redirect that fetch follows. */
export function isRedirectStatus(status: number): boolean {
  return REDIRECT_STATUSES.has(status)
}

/**
 * The request for the next hop, following the Fetch standard's "HTTP-redirect fetch": 303 (and
 * 301/302 after POST) become a GET without body; credentials stay with their origin. The new URL
 * is checked and resolved afresh by the caller, like the first.
 *
 * @example
 * followRedirect(postRequest, 303, '/done') // GET {origin}/done, no body, no content-type
 */
export function followRedirect(request: PreparedRequest, status: number, location: string): PreparedRequest {
  let url: URL
  try {
    url = new URL(location, request.url)
  } catch (error) {
    throw new EgressError('EGRESS_FAILED', `the redirect location ${JSON.stringify(location.slice(0, 200))} is not a valid URL`, { cause: error })
  }
  let { method, body } = request
  let headers = request.headers
  if (((status === 301 || status === 302) && method === 'POST') || (status === 303 && method !== 'GET' && method !== 'HEAD')) {
    method = 'GET'
    body = null
    headers = headers.filter(([name]) => !BODY_HEADERS.has(name))
  }
  if (url.origin !== request.url.origin) headers = headers.filter(([name]) => !ORIGIN_CREDENTIALS.has(name))
  return { url, method, headers, body, redirect: request.redirect }
}
