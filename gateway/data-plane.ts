import { Buffer } from 'node:buffer'
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { failedRun, runTask, type Executor, type HttpRequestData, type HttpResponseData, type ProgramRef, type RunLimits, type RunResult } from '../runner/index.js'
import type { AdmissionController } from './admission.js'
import { countsAgainstScript, type CircuitBreaker } from './circuit-breaker.js'
import { DATA_PLANE_ERRORS, type GatewayErrorCode } from './errors.js'
import { addClientHeaders, peerAddress } from './client-address.js'
import type { EarlyResponder, EarlyResponses } from './early-responses.js'
import { StreamedResponse } from './streamed-response.js'
import type { GatewayMetrics } from './metrics.js'
import { writeError, writeRunResult, type RequestState } from './response-writer.js'
import { normalizePath } from './request-path.js'
import type { Route, RouteMatch, RouteTable } from './route-table.js'
import type { TenantGate } from './tenant-gate.js'
import { loadUws, type Uws } from './uws.js'

/** A finished HTTP run, handed off to be recorded (off the hot path). */
export interface HttpRun {
  executionId: string
  route: Route
  request: HttpRequestData
  result: RunResult
  startedAt: Date
  /** The client went away before the answer was written (it was not delivered). */
  clientAborted: boolean
}

export interface DataPlaneOptions {
  host: string
  port: number
  routes: RouteTable
  executor: Executor
  admission: AdmissionController
  breaker: CircuitBreaker
  metrics: GatewayMetrics
  /** Called with every finished run; must not block (the recorder buffers). */
  onRun: (run: HttpRun) => void
  defaultLimits: RunLimits
  maxBodyBytes: number
  /** Where runs hand over their response before they end (ctx.waitUntil); see early-responses.ts. */
  earlyResponses?: EarlyResponses | undefined
  /** When set, `Host: {tenant}.{baseDomain}` selects the tenant instead of the first path segment. */
  baseDomain?: string | undefined
  /** The operator's per-tenant door (suspension, request rate); none lets every tenant through. */
  gate?: TenantGate | undefined
  logger: Logger
}

const RETRY_AFTER_SECONDS = '1'
/** Header bytes (names and values) a request may carry; past it 431. Node's default limit. */
const MAX_HEADER_BYTES = 16 * 1024
/** Metrics of a response written before its run ended: the run's own come with its result. */
const EARLY_METRICS = { wallMs: 0, cpuMs: 0, heapBytes: 0, apiCalls: 0, outputBytes: 0, start: 'hot' } as const

/**
 * The uWebSockets.js data plane: resolve tenant and route from memory, admit (bounded and fair),
 * read the body with a cap, run the script, write the response corked, never after the client
 * went away, and hand the finished run to the recorder.
 *
 * Pipelining: this uWS build closes a connection when a pipelined request is parsed while an
 * asynchronous response on it is pending (HttpContext.h: "Are we not ready for another request
 * yet? Terminate the connection"); `pause()` cannot stop the parse of bytes already read. Every
 * isogate response is asynchronous, so pipelined requests on one connection are not served.
 *
 * @example
 * const plane = new DataPlane({ host: '127.0.0.1', port: 8080, routes, executor, admission, breaker, metrics, onRun, defaultLimits, maxBodyBytes, logger })
 * const port = await plane.listen()
 */
export class DataPlane {
  readonly #options: DataPlaneOptions
  readonly #uws: typeof Uws
  /** Each route's program (#programOf); weak, as routes are replaced when scripts change. */
  readonly #programs = new WeakMap<Route, ProgramRef>()
  #listenSocket: Uws.us_listen_socket | null = null
  #port = 0
  #draining = false

  constructor(options: DataPlaneOptions) {
    if (!Number.isInteger(options.maxBodyBytes) || options.maxBodyBytes < 1) throw new RangeError('options.maxBodyBytes must be a positive integer')
    this.#options = options
    this.#uws = loadUws()
  }

  get port(): number {
    return this.#port
  }

  listen(): Promise<number> {
    const app = this.#uws.App()
    app.any('/*', (res, req) => this.#handle(res, req))
    return new Promise((resolve, reject) => {
      app.listen(this.#options.host, this.#options.port, (socket) => {
        if (!socket) {
          reject(new Error(`the data plane could not listen on ${this.#options.host}:${this.#options.port}`))
          return
        }
        this.#listenSocket = socket
        this.#port = this.#uws.us_socket_local_port(socket as unknown as Uws.us_socket)
        resolve(this.#port)
      })
    })
  }

  /** Stops accepting connections; requests in flight still get their answers, new ones on open connections get 503 DRAINING. */
  drain(): void {
    this.#draining = true
    if (this.#listenSocket !== null) this.#uws.us_listen_socket_close(this.#listenSocket)
    this.#listenSocket = null
  }

  #handle(res: Uws.HttpResponse, req: Uws.HttpRequest): void {
    const started = performance.now()
    const state: RequestState = { aborted: false, answered: false, stream: null }
    let onAbort: (() => void) | null = null
    res.onAborted(() => {
      state.aborted = true
      onAbort?.()
      state.stream?.aborted()
    })
    const method = req.getCaseSensitiveMethod().toUpperCase()
    // Dot segments resolved before routing, as the script's URL parser will resolve them.
    const rawPath = normalizePath(req.getUrl())
    const query = req.getQuery()
    const headers: Array<[string, string]> = []
    let host = ''
    let hasBody = false
    let declaredLength = 0
    let headerBytes = 0
    let presented: string | null = null
    req.forEach((name, value) => {
      headers.push([name, value])
      headerBytes += name.length + value.length
      if (name === 'host') host = value
      else if (name === 'x-runtime-secret') presented = value
      else if (name === 'authorization' && presented === null && /^bearer /i.test(value)) presented = value.slice(7)
      else if (name === 'content-length') {
        hasBody = value !== '0'
        declaredLength = Number(value)
      } else if (name === 'transfer-encoding') hasBody = true
    })
    addClientHeaders(headers, peerAddress(Buffer.from(res.getRemoteAddressAsText()).toString()), host, 'http')

    let slug: string
    let path: string
    if (this.#options.baseDomain !== undefined) {
      slug = tenantFromHost(host, this.#options.baseDomain)
      path = rawPath
    } else {
      const end = rawPath.indexOf('/', 1)
      slug = end === -1 ? rawPath.slice(1) : rawPath.slice(1, end)
      path = end === -1 ? '/' : rawPath.slice(end)
      headers.push(['x-forwarded-prefix', `/${slug}`])
    }

    // A refusal written before the body is read closes the connection: the unread body must
    // never be parsed as the next request. A closing answer is written on the next turn: this uWS
    // build, answered synchronously with `Connection: close`, goes on parsing and serving the
    // bytes already read after the request (a desync: see test/http-edge.test.ts); answered
    // later, a pipelined request ends the connection instead.
    const refuse = (code: GatewayErrorCode, extra: Array<[string, string]> = [], close = false): void => {
      const { status, message } = DATA_PLANE_ERRORS[code]
      this.#options.metrics.observe(slug, status, (performance.now() - started) / 1000)
      if (!close && !hasBody) return writeError(res, state, status, { code, message }, extra)
      setImmediate(() => writeError(res, state, status, { code, message }, extra, true))
    }
    if (headerBytes > MAX_HEADER_BYTES) return refuse('HEADERS_TOO_LARGE', [], true)
    if (declaredLength > this.#options.maxBodyBytes) return refuse('BODY_TOO_LARGE', [], true)
    if (this.#draining) return refuse('DRAINING', [['retry-after', RETRY_AFTER_SECONDS]], true)

    let match = this.#options.routes.match(slug, method, path)
    if (match.kind === 'tenant-not-found') return refuse('TENANT_NOT_FOUND')
    // A suspended tenant answers so on every path, served or not (a served one: gate.check below).
    if (match.kind !== 'found' && this.#options.gate?.suspended(match.tenantId) === true) {
      this.#options.metrics.rejected('TENANT_SUSPENDED')
      return refuse('TENANT_SUSPENDED')
    }
    if (match.kind === 'method-not-allowed' && method === 'OPTIONS') {
      // A preflight goes to the script that serves every method of this path (its fetch handler
      // answers CORS, as a Worker's does); with several scripts there, or none, a plain 204.
      const preflight = this.#preflight(slug, path, match.allow)
      if (preflight === null && !hasBody) return this.#answerOptions(res, state, match.allow, slug, started)
      if (preflight !== null) match = preflight
    }
    if (match.kind === 'method-not-allowed') return refuse('METHOD_NOT_ALLOWED', [['allow', match.allow.join(', ')]])
    if (match.kind === 'not-found') return refuse('ROUTE_NOT_FOUND')
    const route = match.route
    const verdict = this.#options.gate?.check(route.tenantId) ?? null
    if (verdict !== null) {
      this.#options.metrics.rejected(verdict.code)
      return refuse(verdict.code, verdict.code === 'TENANT_RATE_LIMITED' ? [['retry-after', String(verdict.retryAfterSeconds)]] : [])
    }
    if (route.authToken !== undefined && !secretMatches(presented, route.authToken)) {
      return refuse('SCRIPT_AUTH_REQUIRED', [['www-authenticate', 'Bearer']])
    }

    const url = `http://${host || 'localhost'}${path}${query ? `?${query}` : ''}`
    const request: HttpRequestData = { method, url, headers, body: null, params: match.params }
    const circuit = this.#options.breaker.allow(route.scriptId, route.version)
    if (!circuit.allowed) {
      this.#options.metrics.rejected('SCRIPT_UNAVAILABLE')
      refuse('SCRIPT_UNAVAILABLE', [['retry-after', String(circuit.retryAfterSeconds)]])
      return this.#refused(route, request, 'SCRIPT_UNAVAILABLE')
    }

    // The run starts when both admission granted a slot and the body is in.
    let admitted = false
    let running = false
    let bodyRead = !hasBody
    const go = (): void => {
      if (!admitted || !bodyRead || running) return
      running = true
      this.#run(res, state, route, request, started)
    }
    const asked = performance.now()
    const admission = this.#options.admission.admit(route.tenantId, () => {
      this.#options.metrics.queued((performance.now() - asked) / 1000)
      if (state.aborted) {
        this.#options.admission.release(route.tenantId)
        return
      }
      admitted = true
      go()
    })
    if (admission.verdict === 'TENANT_BUSY' || admission.verdict === 'OVERLOADED') {
      this.#options.metrics.rejected(admission.verdict)
      refuse(admission.verdict, [['retry-after', String(admission.retryAfterSeconds ?? 1)]], hasBody)
      return this.#refused(route, request, admission.verdict)
    }
    onAbort = () => {
      // Gone while waiting for a slot or for its body: give the place or the slot back.
      admission.ticket?.cancel()
      if (admitted && !running) this.#options.admission.release(route.tenantId)
    }
    if (hasBody) {
      this.#readBody(res, state, (body) => {
        request.body = body
        bodyRead = true
        go()
      }, () => {
        // The body was refused (413): give back the slot or the place in the queue.
        admission.ticket?.cancel()
        if (admitted && !running) this.#options.admission.release(route.tenantId)
        admitted = false
        this.#options.metrics.observe(slug, 413, (performance.now() - started) / 1000)
      })
    }
  }

  /** The route OPTIONS runs when one script serves every method of the path, else null. */
  #preflight(slug: string, path: string, allow: readonly string[]): Extract<RouteMatch, { kind: 'found' }> | null {
    let found: Extract<RouteMatch, { kind: 'found' }> | null = null
    for (const method of allow) {
      const match = this.#options.routes.match(slug, method, path)
      if (match.kind !== 'found') continue
      if (found !== null && found.kind === 'found' && found.route.scriptId !== match.route.scriptId) return null
      found = found ?? match
    }
    return found
  }

  /** OPTIONS that no script answers: 204 with Allow (and no CORS grant: that is the script's to give). */
  #answerOptions(res: Uws.HttpResponse, state: RequestState, allow: readonly string[], slug: string, started: number): void {
    if (state.aborted || state.answered) return
    state.answered = true
    const methods = [...allow, 'OPTIONS'].join(', ')
    res.cork(() => {
      res.writeStatus('204 No Content')
      res.writeHeader('allow', methods)
      res.endWithoutBody(0)
    })
    this.#options.metrics.observe(slug, 204, (performance.now() - started) / 1000)
  }

  /**
   * A request refused on its script's route (errors.ts ROUTE_REFUSALS) did not run: handed on as a
   * failed run, counted always and recorded once a second per code (run-sampler.ts keepRefusal).
   */
  #refused(route: Route, request: HttpRequestData, code: GatewayErrorCode): void {
    const error = { code, message: DATA_PLANE_ERRORS[code].message }
    const metrics = { wallMs: 0, cpuMs: 0, heapBytes: 0, apiCalls: 0, outputBytes: 0, start: 'hot' as const }
    this.#options.onRun({ executionId: randomUUID(), route, request, result: { ok: false, error, logs: [], metrics }, startedAt: new Date(), clientAborted: false })
  }

  #readBody(res: Uws.HttpResponse, state: RequestState, done: (body: Uint8Array | null) => void, refused: () => void): void {
    const max = this.#options.maxBodyBytes
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    res.onData((chunk, isLast) => {
      if (over) return
      size += chunk.byteLength
      if (size > max) {
        over = true
        // On the next turn, as every closing refusal (see refuse in #handle).
        setImmediate(() => writeError(res, state, 413, { code: 'BODY_TOO_LARGE', message: `the request body is over ${max} bytes` }, [], true))
        refused()
        return
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      if (chunk.byteLength > 0) chunks.push(Buffer.from(new Uint8Array(chunk)))
      if (isLast) done(size === 0 ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    })
  }

  /** The route's program, one object for all its runs: the wire's head of its tasks is written once (runner/protocol.ts encodeTask). */
  #programOf(route: Route): ProgramRef {
    let program = this.#programs.get(route)
    if (program === undefined) {
      program = Object.freeze({ tenantId: route.tenantId, scriptId: route.scriptId, version: route.version, sourceHash: route.sourceHash, source: route.source })
      this.#programs.set(route, program)
    }
    return program
  }

  #run(res: Uws.HttpResponse, state: RequestState, route: Route, request: HttpRequestData, started: number): void {
    const executionId = randomUUID()
    const startedAt = new Date()
    const task = runTask({
      kind: 'fetch',
      program: this.#programOf(route),
      input: request,
      env: route.env,
      defaults: this.#options.defaultLimits,
      limits: route.limits,
      executionId,
    })
    const early = this.#options.earlyResponses
    let responder: RunResponder | null = null
    let handle = 0
    if (early !== undefined) {
      responder = new RunResponder(res, state, request.method, executionId)
      handle = early.register(executionId, responder)
    }
    const finish = (result: RunResult): void => {
      early?.release(handle)
      responder?.cut()
      this.#options.admission.release(route.tenantId)
      if (result.ok) this.#options.breaker.succeeded(route.scriptId, route.version)
      else if (countsAgainstScript(result.error?.code)) this.#options.breaker.failed(route.scriptId, route.version)
      // Recorded before the answer leaves: a failure's record is in the failure journal then, so a
      // gateway killed between the two has not answered a run it never recorded.
      this.#options.onRun({ executionId, route, request, result, startedAt, clientAborted: state.aborted })
      const status = writeRunResult(res, state, request.method, result, executionId)
      this.#options.metrics.observe(route.tenantSlug, state.aborted ? 499 : status, (performance.now() - started) / 1000)
    }
    this.#options.executor.run(task).then(finish, (error: unknown) => {
      this.#options.logger.error({ err: error, executionId }, 'run failed in the host')
      finish(hostFailure(error))
    })
  }
}

/**
 * How a run hands its response over before it ends (early-responses.ts): written whole, or
 * streamed. One object a run, and its stream made only when the run streams (few do): closures
 * over the run and a stream for every request were most of what the early path cost.
 */
class RunResponder implements EarlyResponder {
  readonly #res: Uws.HttpResponse
  readonly #state: RequestState
  readonly #method: string
  readonly #executionId: string
  #stream: StreamedResponse | null = null

  constructor(res: Uws.HttpResponse, state: RequestState, method: string, executionId: string) {
    this.#res = res
    this.#state = state
    this.#method = method
    this.#executionId = executionId
  }

  respond(response: HttpResponseData, streaming: boolean): boolean {
    if (streaming) {
      this.#stream ??= new StreamedResponse(this.#res, this.#state, this.#method)
      this.#state.stream = this.#stream
      return this.#stream.start(response)
    }
    if (this.#state.aborted || this.#state.answered) return false
    writeRunResult(this.#res, this.#state, this.#method, { ok: true, response, logs: [], metrics: EARLY_METRICS }, this.#executionId)
    return true
  }

  chunk(bytes: Uint8Array): Promise<boolean> {
    return this.#stream === null ? Promise.resolve(false) : this.#stream.chunk(bytes)
  }

  end(): void {
    this.#stream?.end()
  }

  /** The run ended: a body it streamed and did not end is cut. */
  cut(): void {
    this.#stream?.cut()
  }
}

/** Compares digests, so neither the secret's length nor where it differs shows in the timing. */
function secretMatches(presented: string | null, expected: string | null): boolean {
  if (presented === null || expected === null) return false
  const a = createHash('sha256').update(presented).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

function hostFailure(error: unknown): RunResult {
  return failedRun({ code: 'RUNNER_UNAVAILABLE', message: error instanceof Error ? error.message : String(error) })
}

function tenantFromHost(host: string, baseDomain: string): string {
  const name = host.toLowerCase().replace(/:\d+$/, '')
  const suffix = `.${baseDomain.toLowerCase().replace(/:\d+$/, '')}`
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : ''
}
