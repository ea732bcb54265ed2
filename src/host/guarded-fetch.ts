import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls'
import type { EgressPolicy } from './egress-policy.js'
import { resolveTarget, systemLookup, type EgressTarget, type HostLookup } from './egress-target.js'
import { EgressError } from './errors.js'
import { prepareRequest, type OutboundRequest, type OutboundResponse, type PreparedRequest } from './outbound-request.js'
import { exchange } from './pinned-exchange.js'
import { followRedirect, isRedirectStatus } from './redirect.js'

export interface GuardedFetchOptions {
  /** Decides which URLs and addresses may be reached. Required. */
  policy: EgressPolicy
  /** Longest wait for one TCP (and TLS) connection. Default 5000. */
  connectTimeoutMs?: number
  /** Longest a whole request may take: every hop's resolution, connection, and the full body. Default 30000. */
  timeoutMs?: number
  /** Largest response body; more fails with EGRESS_RESPONSE_TOO_LARGE. Default 5 MiB. */
  maxResponseBytes?: number
  /** Largest request body; more fails with EGRESS_REQUEST_TOO_LARGE. Default 5 MiB. */
  maxRequestBytes?: number
  /** Redirects followed before EGRESS_REDIRECT_LIMIT. Default 5. */
  maxRedirects?: number
  /** Resolves host names, once per hop. Default: the system resolver (dns.promises.lookup, all addresses). */
  lookup?: HostLookup
  /**
   * Certificate authorities (PEM) trusted besides Node's bundled ones, e.g. an internal CA.
   * Default none: only the bundled roots (and NODE_EXTRA_CA_CERTS) are trusted.
   */
  extraCa?: string | undefined
}

const DEFAULTS = {
  connectTimeoutMs: 5_000,
  timeoutMs: 30_000,
  maxResponseBytes: 5 * 1024 * 1024,
  maxRequestBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
} as const

/**
 * The outbound HTTP client behind a script's `fetch` and `ctx.http`. It runs in the gateway
 * process, never in an isolate. For every hop it checks the URL, resolves the host once, refuses
 * the hop if any address is refused, and connects only to the checked addresses; redirects are
 * followed by hand so each Location goes through the same checks. Requests and responses are
 * plain data; every failure is an EgressError with a stable code.
 *
 * @example
 * const http = new GuardedFetch({ policy: new EgressPolicy() })
 * const response = await http.fetch(tenantId, { url: 'https://api.example.com/x', method: 'GET', headers: [], body: null }, call.signal)
 * response.status // 200
 */
export class GuardedFetch {
  readonly #policy: EgressPolicy
  readonly #lookup: HostLookup
  readonly #connectTimeoutMs: number
  readonly #timeoutMs: number
  readonly #maxResponseBytes: number
  readonly #maxRequestBytes: number
  readonly #maxRedirects: number
  readonly #secureContext: SecureContext | undefined

  constructor(options: GuardedFetchOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const policy: unknown = options.policy
    if (policy === null || typeof policy !== 'object' || typeof (policy as EgressPolicy).checkUrl !== 'function') {
      throw new TypeError('options.policy must be an EgressPolicy')
    }
    this.#policy = options.policy
    this.#lookup = options.lookup ?? systemLookup
    if (typeof this.#lookup !== 'function') throw new TypeError('options.lookup must be a function')
    this.#connectTimeoutMs = positiveInt(options, 'connectTimeoutMs')
    this.#timeoutMs = positiveInt(options, 'timeoutMs')
    this.#maxResponseBytes = positiveInt(options, 'maxResponseBytes')
    this.#maxRequestBytes = positiveInt(options, 'maxRequestBytes')
    const maxRedirects = options.maxRedirects ?? DEFAULTS.maxRedirects
    if (!Number.isInteger(maxRedirects)) throw new TypeError('options.maxRedirects must be an integer')
    if (maxRedirects < 0 || maxRedirects > 20) throw new RangeError('options.maxRedirects must be between 0 and 20')
    this.#maxRedirects = maxRedirects
    const extraCa = options.extraCa
    if (extraCa !== undefined && (typeof extraCa !== 'string' || !extraCa.includes('-----BEGIN CERTIFICATE-----'))) {
      throw new TypeError('options.extraCa must be PEM text with at least one certificate')
    }
    // One context for every connection: building one from ~150 roots costs milliseconds.
    this.#secureContext = extraCa === undefined ? undefined : createSecureContext({ ca: [...rootCertificates, extraCa] })
  }

  /**
   * Sends a request for a tenant and answers with the whole response. `signal` (the run's) aborts
   * it with EGRESS_ABORTED. Throws EgressError: EGRESS_DENIED, EGRESS_INVALID_REQUEST,
   * EGRESS_REQUEST_TOO_LARGE, EGRESS_RESPONSE_TOO_LARGE, EGRESS_REDIRECT_LIMIT, EGRESS_TIMEOUT,
   * EGRESS_ABORTED or EGRESS_FAILED.
   */
  async fetch(tenantId: string, request: OutboundRequest, signal?: AbortSignal): Promise<OutboundResponse> {
    if (typeof tenantId !== 'string' || tenantId === '') throw new TypeError('tenantId must be a non-empty string')
    let current = prepareRequest(request, this.#maxRequestBytes)
    if (signal?.aborted === true) throw new EgressError('EGRESS_ABORTED', 'the request was aborted before it started')
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new EgressError('EGRESS_TIMEOUT', `no complete response within ${this.#timeoutMs} ms`)), this.#timeoutMs)
    const combined = signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, signal])
    let host = current.url.host
    try {
      for (let hop = 0; ; hop++) {
        host = current.url.host
        const target = await resolveTarget(this.#policy, this.#lookup, tenantId, current.url, combined)
        const answer = await this.#exchange(target, current, combined)
        const location = answer.headers.find(([name]) => name === 'location')?.[1]
        if (current.redirect === 'manual' || !isRedirectStatus(answer.status) || location === undefined) {
          return { url: withoutFragment(current.url), ...answer, redirected: hop > 0 }
        }
        if (current.redirect === 'error') {
          throw new EgressError('EGRESS_FAILED', `${host} answered a redirect (${answer.status}) and redirect is 'error'`)
        }
        if (hop >= this.#maxRedirects) {
          throw new EgressError('EGRESS_REDIRECT_LIMIT', `more than ${this.#maxRedirects} redirects, the last from ${host}`)
        }
        current = followRedirect(current, answer.status, location)
      }
    } catch (error) {
      throw this.#explain(error, host, deadline.signal, signal)
    } finally {
      clearTimeout(timer)
    }
  }

  #exchange(target: EgressTarget, request: PreparedRequest, signal: AbortSignal) {
    const follows = request.redirect !== 'manual'
    return exchange(target, request, {
      connectTimeoutMs: this.#connectTimeoutMs,
      maxResponseBytes: this.#maxResponseBytes,
      secureContext: this.#secureContext,
      signal,
      // A redirect that will be followed (or refused) is not read: its body is never seen.
      wantsBody: (status, headers) => !(follows && isRedirectStatus(status) && headers.some(([name]) => name === 'location')),
    })
  }

  /** Turns any failure into an EgressError whose message is safe to show the script. */
  #explain(error: unknown, host: string, deadline: AbortSignal, signal: AbortSignal | undefined): EgressError {
    if (error instanceof EgressError) return error
    if (deadline.aborted) return deadline.reason as EgressError
    if (signal?.aborted === true) return new EgressError('EGRESS_ABORTED', `the request to ${host} was aborted`, { cause: error })
    const code = (error as { code?: unknown } | null)?.code
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new EgressError('EGRESS_TIMEOUT', `could not connect to ${host} within ${this.#connectTimeoutMs} ms`, { cause: error })
    }
    return new EgressError('EGRESS_FAILED', `the request to ${host} failed${describe(code)}`, { cause: error })
  }
}

/** A short, host-independent description of a network error code. */
function describe(code: unknown): string {
  if (typeof code !== 'string') return ''
  if (code === 'ECONNREFUSED') return ': connection refused'
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return ': connection closed by the server'
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return ': host unreachable'
  // OpenSSL's verification results (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, ...) and Node's own.
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('DEPTH_ZERO') || code.startsWith('SELF_SIGNED') || code.startsWith('UNABLE_TO_')) {
    return `: TLS failed (${code})`
  }
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO') return ': the response is not valid HTTP'
  return ` (${code})`
}

function withoutFragment(url: URL): string {
  const copy = new URL(url)
  copy.hash = ''
  return copy.href
}

function positiveInt(options: GuardedFetchOptions, field: 'connectTimeoutMs' | 'timeoutMs' | 'maxResponseBytes' | 'maxRequestBytes'): number {
  const value = options[field] ?? DEFAULTS[field]
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${field} must be a positive integer`)
  if (value < 1) throw new RangeError(`options.${field} must be a positive integer`)
  return value
}
