/**
 * A runner worker thread (piscina task module). Holds the isolates of the tenants whose home
 * this thread is, runs their scripts under the watchdog, and answers plain data.
 */
import ivm from 'isolated-vm'
import { LRUCache } from 'lru-cache'
import { workerData } from 'node:worker_threads'
import { RunnerError, toErrorData, type ErrorData } from './errors.js'
import type { CheckResult, HandlerKind, HttpResponseData, LogEntry, RunMetrics, RunResult, RunTask } from './protocol.js'
import { SCRIPT_FILENAME, stackLocation, tenantStack } from './source-location.js'
import { TenantIsolate, syntaxError } from './tenant-isolate.js'
import { Watchdog } from './watchdog.js'

export interface WorkerSettings {
  platformSource: string
  maxIsolates: number
  isolateIdleMs: number
  maxProgramsPerTenant: number
}

export type WorkerMessage =
  | { type: 'run'; task: RunTask }
  | { type: 'check'; source: string }
  | { type: 'stats' }

export interface WorkerStats {
  isolates: number
  isolateHits: number
  isolateMisses: number
  programHits: number
  programMisses: number
}

const settings = workerData as WorkerSettings
const watchdog = new Watchdog()
const stats: WorkerStats = { isolates: 0, isolateHits: 0, isolateMisses: 0, programHits: 0, programMisses: 0 }
const isolates = new LRUCache<string, TenantIsolate>({
  max: settings.maxIsolates,
  ttl: settings.isolateIdleMs,
  ttlAutopurge: true,
  updateAgeOnGet: true,
  dispose: (tenant) => tenant.dispose(),
})

export default async function handle(message: WorkerMessage): Promise<RunResult | CheckResult | WorkerStats> {
  switch (message.type) {
    case 'run':
      return run(message.task)
    case 'check':
      return check(message.source)
    case 'stats':
      return { ...stats, isolates: isolates.size }
  }
}

function tenantIsolate(task: RunTask): { tenant: TenantIsolate; start: RunMetrics['start'] } {
  const existing = isolates.get(task.program.tenantId)
  if (existing !== undefined && !existing.disposed && existing.memoryMb === task.limits.memoryMb) {
    stats.isolateHits++
    const hot = existing.has(task.program)
    if (hot) stats.programHits++
    else stats.programMisses++
    return { tenant: existing, start: hot ? 'hot' : 'warm' }
  }
  stats.isolateMisses++
  stats.programMisses++
  const tenant = new TenantIsolate({
    tenantId: task.program.tenantId,
    memoryMb: task.limits.memoryMb,
    platformSource: settings.platformSource,
    maxPrograms: settings.maxProgramsPerTenant,
  })
  isolates.set(task.program.tenantId, tenant)
  return { tenant, start: 'cold' }
}

async function run(task: RunTask): Promise<RunResult> {
  const started = performance.now()
  const { tenant, start } = tenantIsolate(task)
  const stop = watchdog.watch(tenant, task.limits)
  let raw: DispatchResult | null = null
  let failure: ErrorData | null = null
  try {
    const program = await tenant.program(task.program)
    raw = (await program.dispatch.apply(undefined, [program.id, task.kind, task.input, task.env], {
      arguments: { copy: true },
      result: { promise: true, copy: true },
    })) as DispatchResult
  } catch (error) {
    failure = runFailure(error, tenant)
  }
  const cpuNs = stop()
  if (tenant.disposed && isolates.get(tenant.tenantId) === tenant) isolates.delete(tenant.tenantId)
  const metrics: RunMetrics = {
    wallMs: performance.now() - started,
    cpuMs: Number(cpuNs) / 1e6,
    heapBytes: tenant.heapBytes(),
    apiCalls: 0,
    outputBytes: 0,
    start,
  }
  if (failure !== null || raw === null) {
    return { ok: false, error: failure ?? toErrorData(new RunnerError('SCRIPT_ERROR')), logs: [], metrics }
  }
  return settle(raw, task, metrics)
}

interface DispatchResult {
  response?: HttpResponseData
  output?: unknown
  error?: { name: string; message: string; stack: string; code?: string }
  logs: LogEntry[]
}

function settle(raw: DispatchResult, task: RunTask, metrics: RunMetrics): RunResult {
  const logs = Array.isArray(raw.logs) ? raw.logs : []
  const logBytes = logs.reduce((sum, entry) => sum + Buffer.byteLength(String(entry.message)), 0)
  if (raw.error) {
    metrics.outputBytes = logBytes
    return { ok: false, error: scriptError(raw.error, task.kind), logs, metrics }
  }
  let bodyBytes = 0
  let response: HttpResponseData | undefined
  if (task.kind === 'fetch') {
    const checked = checkResponse(raw.response)
    if ('code' in checked) return { ok: false, error: checked, logs, metrics }
    response = checked
    const body = response.body
    bodyBytes = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
  } else {
    bodyBytes = raw.output === undefined ? 0 : Buffer.byteLength(JSON.stringify(raw.output) ?? '')
  }
  metrics.outputBytes = bodyBytes + logBytes
  if (metrics.outputBytes > task.limits.outputBytes) {
    const error = new RunnerError('SCRIPT_OUTPUT_LIMIT', `the run produced ${metrics.outputBytes} bytes of output, over its limit of ${task.limits.outputBytes}`)
    return { ok: false, error: error.data, logs: [], metrics }
  }
  return { ok: true, response, output: raw.output, logs, metrics }
}

function checkResponse(response: unknown): HttpResponseData | ErrorData {
  const invalid = (message: string): ErrorData => new RunnerError('SCRIPT_INVALID_RESPONSE', message).data
  if (typeof response !== 'object' || response === null) return invalid('the fetch handler returned no response')
  const { status, headers, body } = response as HttpResponseData
  if (!Number.isInteger(status) || status < 200 || status > 599) return invalid(`invalid status ${String(status)}`)
  if (!Array.isArray(headers) || !headers.every((h) => Array.isArray(h) && typeof h[0] === 'string' && typeof h[1] === 'string')) {
    return invalid('invalid headers')
  }
  if (body !== null && typeof body !== 'string' && !(body instanceof ArrayBuffer)) return invalid('invalid body')
  return { status, headers, body }
}

function scriptError(error: NonNullable<DispatchResult['error']>, kind: HandlerKind): ErrorData {
  if (error.code === 'HANDLER_NOT_FOUND') return new RunnerError('HANDLER_NOT_FOUND', `the script has no ${kind} handler`).data
  const stack = tenantStack(String(error.stack ?? ''))
  const location = stackLocation(stack)
  return { code: 'SCRIPT_ERROR', name: String(error.name), message: String(error.message), stack, ...location }
}

function runFailure(error: unknown, tenant: TenantIsolate): ErrorData {
  if (error instanceof RunnerError) return error.data
  // The watchdog's reason wins: how the pending call fails depends on what the isolate was doing.
  if (tenant.killReason !== null) return new RunnerError(tenant.killReason).data
  if (error instanceof Error && /^Isolate (was|is) disposed/.test(error.message)) {
    return new RunnerError(/memory limit/.test(error.message) ? 'SCRIPT_MEMORY_LIMIT' : 'SCRIPT_TIMEOUT').data
  }
  if (error instanceof Error && /memory limit/i.test(error.message)) return new RunnerError('SCRIPT_MEMORY_LIMIT').data
  return toErrorData(error)
}

let checker: ivm.Isolate | null = null

/** Compiles a source without running it: syntax errors with line and column, and no imports. */
async function check(source: string): Promise<CheckResult> {
  if (checker === null || checker.isDisposed) checker = new ivm.Isolate({ memoryLimit: 32 })
  let module: ivm.Module | null = null
  try {
    module = await checker.compileModule(source, { filename: SCRIPT_FILENAME })
    const imports = module.dependencySpecifiers
    if (imports.length > 0) {
      const error = new RunnerError('SCRIPT_IMPORT_FORBIDDEN', `import of "${imports[0]}" is not allowed: scripts are self-contained modules`)
      return { ok: false, handlers: [], error: error.data }
    }
    return { ok: true, handlers: [] }
  } catch (error) {
    return { ok: false, handlers: [], error: syntaxError(error, source).data }
  } finally {
    module?.release()
  }
}
