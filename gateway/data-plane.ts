import { STATUS_CODES } from 'node:http'
import type { Logger } from 'pino'
import type { HttpRequestData, RunLimits, RunResult, RunTask } from '../runner/index.js'
import { GatewayError, type GatewayErrorCode } from './errors.js'
import { RouteTable, type Route } from './route-table.js'
import { loadUws, type Uws } from './uws.js'

/** What the data plane needs of the runner. */
export interface RunExecutor {
  run(task: RunTask): Promise<RunResult>
}

export interface DataPlaneOptions {
  host: string
  port: number
  routes: RouteTable
  runner: RunExecutor
  defaultLimits: RunLimits
  maxBodyBytes: number
  /** When set, `Host: {tenant}.{baseDomain}` selects the tenant instead of the first path segment. */
  baseDomain?: string | undefined
  logger: Logger
}

/** Run failures, by code: the status the client gets. The message is the code's, never a stack. */
const RUN_FAILURE_STATUS: Record<string, number> = {
  SCRIPT_TIMEOUT: 504,
  SCRIPT_CPU_LIMIT: 503,
  SCRIPT_MEMORY_LIMIT: 503,
  RUNNER_CRASHED: 503,
  RUNNER_UNAVAILABLE: 503,
  TENANT_QUARANTINED: 503,
}

/** A request's life: the client may go away (aborted); only one answer is written (answered). */
interface RequestState {
  aborted: boolean
  answered: boolean
}

/** Headers the gateway owns: uWS writes Content-Length itself, and the connection is ours. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade'])

const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE'])

/**
 * The uWebSockets.js data plane: resolve tenant and route from memory, read the body with a
 * cap, run the script, write the response corked, never after the client went away.
 *
 * @example
 * const plane = new DataPlane({ host: '127.0.0.1', port: 8080, routes, runner, defaultLimits, maxBodyBytes, logger })
 * const port = await plane.listen()
 */
export class DataPlane {
  readonly #options: DataPlaneOptions
  readonly #uws: typeof Uws
  #app: Uws.TemplatedApp | null = null
  #listenSocket: Uws.us_listen_socket | null = null
  #port = 0

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
    this.#app = app
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

  /** Stops accepting connections; requests in flight still get their answers. */
  stopListening(): void {
    if (this.#listenSocket !== null) this.#uws.us_listen_socket_close(this.#listenSocket)
    this.#listenSocket = null
  }

  /** This uWS build has no App.close(): open keep-alive connections end with the process. */
  close(): void {
    this.stopListening()
    this.#app = null
  }

  #handle(res: Uws.HttpResponse, req: Uws.HttpRequest): void {
    const state: RequestState = { aborted: false, answered: false }
    res.onAborted(() => {
      state.aborted = true
    })
    const method = req.getCaseSensitiveMethod().toUpperCase()
    const rawPath = req.getUrl()
    const query = req.getQuery()
    const headers: Array<[string, string]> = []
    let host = ''
    req.forEach((name, value) => {
      headers.push([name, value])
      if (name === 'host') host = value
    })

    let slug: string
    let path: string
    let prefix = ''
    if (this.#options.baseDomain !== undefined) {
      slug = tenantFromHost(host, this.#options.baseDomain)
      path = rawPath
    } else {
      const end = rawPath.indexOf('/', 1)
      slug = end === -1 ? rawPath.slice(1) : rawPath.slice(1, end)
      path = end === -1 ? '/' : rawPath.slice(end)
      prefix = `/${slug}`
      headers.push(['x-forwarded-prefix', prefix])
    }

    const match = this.#options.routes.match(slug, method, path)
    if (match.kind !== 'found') {
      const code: GatewayErrorCode = match.kind === 'method-not-allowed' ? 'METHOD_NOT_ALLOWED' : match.kind === 'tenant-not-found' ? 'TENANT_NOT_FOUND' : 'ROUTE_NOT_FOUND'
      const extra: Array<[string, string]> = match.kind === 'method-not-allowed' ? [['allow', match.allow.join(', ')]] : []
      writeError(res, state, new GatewayError(code).status, code, new GatewayError(code).message, extra)
      return
    }

    const url = `http://${host || 'localhost'}${path}${query ? `?${query}` : ''}`
    const request: HttpRequestData = { method, url, headers, body: null, params: match.params }
    if (BODYLESS_METHODS.has(method) && !headers.some(([name]) => name === 'content-length' || name === 'transfer-encoding')) {
      this.#run(res, state, match.route, request)
      return
    }
    this.#readBody(res, state, (body) => {
      request.body = body
      this.#run(res, state, match.route, request)
    })
  }

  #readBody(res: Uws.HttpResponse, state: RequestState, done: (body: Uint8Array | null) => void): void {
    const max = this.#options.maxBodyBytes
    const chunks: Buffer[] = []
    let size = 0
    let refused = false
    res.onData((chunk, isLast) => {
      if (refused) return
      size += chunk.byteLength
      if (size > max) {
        refused = true
        writeError(res, state, 413, 'BODY_TOO_LARGE', `the request body is over ${max} bytes`, [], true)
        return
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)))
      if (isLast) done(size === 0 ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    })
  }

  #run(res: Uws.HttpResponse, state: RequestState, route: Route, request: HttpRequestData): void {
    const task: RunTask = {
      kind: 'fetch',
      program: { tenantId: route.tenantId, scriptId: route.scriptId, version: route.version, sourceHash: route.sourceHash, source: route.source },
      input: request,
      env: route.env,
      limits: { ...this.#options.defaultLimits, ...definedOnly(route.limits) },
    }
    this.#options.runner.run(task).then(
      (result) => this.#respond(res, state, request.method, result),
      (error: unknown) => {
        this.#options.logger.error({ err: error }, 'run failed in the host')
        writeError(res, state, 500, 'INTERNAL_ERROR', 'Internal error')
      },
    )
  }

  #respond(res: Uws.HttpResponse, state: RequestState, method: string, result: RunResult): void {
    if (state.aborted || state.answered) return
    if (!result.ok || result.response === undefined) {
      const code = result.error?.code ?? 'SCRIPT_ERROR'
      const status = RUN_FAILURE_STATUS[code] ?? 500
      const message = code === 'SCRIPT_ERROR' ? 'The script threw an uncaught error' : (result.error?.message ?? code)
      writeError(res, state, status, code, message)
      return
    }
    const { status, headers, body } = result.response
    state.answered = true
    res.cork(() => {
      res.writeStatus(statusLine(status))
      for (const [name, value] of headers) {
        if (!HOP_BY_HOP.has(name)) res.writeHeader(name, value)
      }
      if (method === 'HEAD') {
        const length = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
        res.endWithoutBody(length)
      } else {
        res.end(body ?? '')
      }
    })
  }
}

function writeError(
  res: Uws.HttpResponse,
  state: RequestState,
  status: number,
  code: string,
  message: string,
  headers: Array<[string, string]> = [],
  close = false,
): void {
  if (state.aborted || state.answered) return
  state.answered = true
  res.cork(() => {
    res.writeStatus(statusLine(status))
    res.writeHeader('content-type', 'application/json')
    for (const [name, value] of headers) res.writeHeader(name, value)
    res.end(JSON.stringify({ error: { code, message } }), close)
  })
}

/** uWS writes the status line as given: add the reason phrase clients and proxies expect. */
function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trimEnd()
}

function tenantFromHost(host: string, baseDomain: string): string {
  const name = host.toLowerCase().replace(/:\d+$/, '')
  const suffix = `.${baseDomain.toLowerCase().replace(/:\d+$/, '')}`
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : ''
}

function definedOnly(limits: Partial<RunLimits>): Partial<RunLimits> {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(limits)) if (typeof value === 'number') out[key] = value
  return out as Partial<RunLimits>
}
