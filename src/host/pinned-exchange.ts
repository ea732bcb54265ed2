import type { LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'
import type { SecureContext } from 'node:tls'
import { buildConnector, Client, type Dispatcher } from 'undici'
import type { EgressTarget } from './egress-target.js'
import { EgressError } from './errors.js'
import type { PreparedRequest } from './outbound-request.js'

export interface ExchangeOptions {
  connectTimeoutMs: number
  maxResponseBytes: number
  /** The TLS trust to verify servers with when the operator added authorities; Node's default otherwise. */
  secureContext?: SecureContext | undefined
  /** Aborts the exchange (the caller's total timeout and its own signal). */
  signal: AbortSignal
  /** Whether to read the body of a response with this status; if not, the exchange ends at the headers. */
  wantsBody: (status: number, headers: ReadonlyArray<readonly [string, string]>) => boolean
}

/** One hop's answer; `body` is empty when it was not wanted. */
export interface ExchangeResult {
  status: number
  statusText: string
  headers: Array<[string, string]>
  body: Uint8Array
}

/** Hop-by-hop response headers, meaningless once the body is passed on whole. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer'])

/**
 * Sends one request over a fresh connection to an address that was checked, and nothing else.
 * The undici Client is made for the URL's origin (so Host, TLS SNI and certificate checks use
 * the real host name) with a `lookup` that answers only the checked addresses: the socket never
 * asks DNS again, which closes the rebinding gap between check and connect. A Client lives for
 * one hop, so no pooled connection can outlive the check that allowed it.
 *
 * @example
 * const answer = await exchange(target, request, { connectTimeoutMs: 5000, maxResponseBytes: 1 << 20, signal, wantsBody: () => true })
 */
export async function exchange(target: EgressTarget, request: PreparedRequest, options: ExchangeOptions): Promise<ExchangeResult> {
  const connector = buildConnector({
    timeout: options.connectTimeoutMs,
    lookup: pinnedLookup(target),
    ...(options.secureContext === undefined ? {} : { secureContext: options.secureContext }),
  } as buildConnector.BuildOptions)
  const connectPort = target.connectPort
  const client = new Client(target.url.origin, {
    // The origin's port, unless the operator mapped this host and port to another one.
    connect: connectPort === undefined ? connector : (connectOptions, callback) => connector({ ...connectOptions, port: String(connectPort) }, callback),
    // The caller's total timeout bounds every phase; undici's own would only add a second clock.
    headersTimeout: 0,
    bodyTimeout: 0,
  })
  try {
    return await new Promise<ExchangeResult>((resolve, reject) => {
      const collector = new ResponseCollector(options, resolve, reject)
      client.dispatch(
        {
          path: `${target.url.pathname}${target.url.search}`,
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers.flat(),
          body: request.body === null ? null : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength),
          reset: true,
        },
        collector,
      )
    })
  } finally {
    // destroy, not close: an unread or oversized body must not keep the socket open.
    await client.destroy().catch(() => {
      // Nothing to do: the client was failing already and its error was reported through the request.
    })
  }
}

/** A `lookup` for net.connect that answers only the checked addresses of the target's host. */
function pinnedLookup(target: EgressTarget): LookupFunction {
  return ((hostname: string, options: { all?: boolean; family?: number | string }, callback: (...args: unknown[]) => void) => {
    const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0
    const addresses: LookupAddress[] = target.addresses.filter((a) => family === 0 || a.family === family)
    process.nextTick(() => {
      // Defensive: the Client is made for this origin only, so any other name is a bug, never a lookup.
      if (hostname !== target.hostname) return callback(new Error(`pinned lookup for ${target.hostname} asked for ${hostname}`))
      const first = addresses[0]
      if (first === undefined) return callback(Object.assign(new Error(`no IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' }))
      return options.all === true ? callback(null, addresses) : callback(null, first.address, first.family)
    })
  }) as LookupFunction
}

/** Collects one response with a running byte count; settles once. */
class ResponseCollector implements Dispatcher.DispatchHandlers {
  readonly #options: ExchangeOptions
  readonly #resolve: (result: ExchangeResult) => void
  readonly #reject: (error: unknown) => void
  #abort: ((error?: Error) => void) | undefined
  #settled = false
  #head: Omit<ExchangeResult, 'body'> | undefined
  readonly #chunks: Buffer[] = []
  #bytes = 0
  readonly #onAbort = (): void => this.#fail(this.#options.signal.reason)

  constructor(options: ExchangeOptions, resolve: (result: ExchangeResult) => void, reject: (error: unknown) => void) {
    this.#options = options
    this.#resolve = resolve
    this.#reject = reject
    if (options.signal.aborted) queueMicrotask(this.#onAbort)
    else options.signal.addEventListener('abort', this.#onAbort, { once: true })
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort
    if (this.#settled) abort()
  }

  onHeaders(status: number, raw: Buffer[], _resume: () => void, statusText: string): boolean {
    if (status < 200) return true // 1xx informational: the real answer follows
    const headers: Array<[string, string]> = []
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1').toLowerCase()
      if (!HOP_BY_HOP.has(name)) headers.push([name, raw[i + 1]!.toString('latin1')])
    }
    this.#head = { status, statusText, headers }
    if (!this.#options.wantsBody(status, headers)) {
      this.#finish()
      return false
    }
    const declared = Number(headers.find(([name]) => name === 'content-length')?.[1] ?? NaN)
    if (declared > this.#options.maxResponseBytes) this.#fail(this.#tooLarge(`declares ${declared} bytes`))
    return !this.#settled
  }

  onData(chunk: Buffer): boolean {
    if (this.#settled) return false
    this.#bytes += chunk.byteLength
    if (this.#bytes > this.#options.maxResponseBytes) {
      this.#fail(this.#tooLarge(`sent more than ${this.#options.maxResponseBytes} bytes`))
      return false
    }
    this.#chunks.push(chunk)
    return true
  }

  onComplete(): void {
    this.#finish()
  }

  onError(error: Error): void {
    this.#fail(error)
  }

  #tooLarge(what: string): EgressError {
    return new EgressError('EGRESS_RESPONSE_TOO_LARGE', `the response ${what}, over the ${this.#options.maxResponseBytes}-byte limit`)
  }

  #finish(): void {
    if (this.#settled) return
    const head = this.#head
    if (head === undefined) return this.#fail(new Error('the request completed without a response'))
    this.#settle()
    // A Uint8Array of its own (not a view into Buffer's shared pool): it is copied into an isolate.
    const body = new Uint8Array(this.#bytes)
    let offset = 0
    for (const chunk of this.#chunks) {
      body.set(chunk, offset)
      offset += chunk.byteLength
    }
    this.#resolve({ ...head, body })
  }

  #fail(error: unknown): void {
    if (this.#settled) return
    this.#settle()
    this.#abort?.(error instanceof Error ? error : undefined)
    this.#reject(error)
  }

  #settle(): void {
    this.#settled = true
    this.#options.signal.removeEventListener('abort', this.#onAbort)
  }
}
