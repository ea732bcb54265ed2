import { Buffer } from 'node:buffer'
import { performance } from 'node:perf_hooks'
import ivm from 'isolated-vm'
import { LRUCache } from 'lru-cache'
import { RunnerError, toErrorData, type ErrorData } from '../errors.js'
import { HostBridge, HostRegistry, type BridgeRun, type DispatchResult } from './host-bridge.js'
import { importError, isNodeModule } from './imports.js'
import { beginStep, endStep } from '../run-claims.js'
import { failedRun, nearVersionOf, programKey, runArgs, type CheckResult, type Evicted, type HttpResponseData, type NamedTask, type RunMetrics, type RunResult, type RunTask } from '../protocol.js'
import { SCRIPT_FILENAME, stackLocation, tenantStack } from './source-location.js'
import { StepTimeout, TenantIsolate, syntaxError, type TenantIsolateOptions, type AnswerSteps, type PlatformCode, type Program, type SyncStep } from './tenant-isolate.js'
import { LimitEnforcer } from './limit-enforcer.js'
import { StepCosts } from './step-costs.js'
import { Watchdog } from './watchdog.js'

export interface IsolateHostOptions {
  platform: PlatformCode
  maxIsolates: number
  isolateIdleMs: number
  maxProgramsPerTenant: number
  /** Host APIs offered to isolates; timers only by default. */
  registry?: HostRegistry
  /** Where the thread marks its synchronous steps for its shard to see (run-claims.ts); none without. */
  steps?: Int32Array
  /**
   * Isolates made ahead while the thread has no run in flight, each taken by a cold start instead
   * of making one (TenantIsolate.ahead; about 1.5 MiB of RSS each). 0: none.
   */
  blankIsolates?: number
  /**
   * The heap limit (MB) they are made with: the tenants' usual quota. Without it, the limit the
   * last cold start asked for.
   */
  blankMemoryMb?: number
}

/** Isolates made ahead by default (IsolateHostOptions.blankIsolates). */
const BLANK_ISOLATES = 2

export interface WorkerStats {
  isolates: number
  /** Isolates made ahead and not taken yet (TenantIsolate.ahead). */
  blankIsolates: number
  isolateHits: number
  isolateMisses: number
  programHits: number
  programMisses: number
  /** Runs whose first step entered their isolate synchronously on the worker thread (step-costs.ts, TenantIsolate.quiet). */
  threadSteps: number
  /** Runs whose first step went to isolated-vm's pool: a new or long-running program, or code of the isolate maybe executing. */
  poolSteps: number
  /** Cold starts that took an isolate made ahead (TenantIsolate.ahead) rather than making one. */
  blankStarts: number
  /** Host calls' answers that entered their isolate synchronously on the worker thread (TenantIsolate deliver). */
  threadAnswers: number
  /** Host calls' answers that entered on isolated-vm's pool: a long-running program, or code of the isolate maybe executing. */
  poolAnswers: number
  /** `ctx.cache.get` calls the thread answered from what it kept (runner/near-copies.ts), without asking the gateway. */
  keptAnswers: number
  /** Messages of runs the thread was sent (worker.ts): one per tenant per turn. */
  runBatches: number
  /**
   * Runs started synchronously whose result came out of their isolate by a call of its own; the
   * others' came out with the next run's dispatch (TenantIsolate Program.dispatch).
   */
  resultTakes: number
}

/**
 * What one worker thread does: hosts the isolates of the tenants whose home it is, runs their
 * scripts under the watchdog through the host bridge, and answers plain data. Usable outside a
 * worker thread too (benchmarks, tests of the bridge).
 *
 * @example
 * const host = new IsolateHost({ platform: { source }, maxIsolates: 500, isolateIdleMs: 300_000, maxProgramsPerTenant: 1000 })
 * const result = await host.run(task)
 */
export class IsolateHost {
  readonly #options: IsolateHostOptions
  readonly #watchdog = new Watchdog()
  readonly #bridge: HostBridge
  readonly #stats: WorkerStats = { isolates: 0, blankIsolates: 0, isolateHits: 0, isolateMisses: 0, programHits: 0, programMisses: 0, threadSteps: 0, poolSteps: 0, blankStarts: 0, threadAnswers: 0, poolAnswers: 0, keptAnswers: 0, runBatches: 0, resultTakes: 0 }
  readonly #isolates: LRUCache<string, TenantIsolate>
  readonly #stepCosts = new StepCosts()
  #checker: ivm.Isolate | null = null
  readonly #idleSweep: NodeJS.Timeout
  /** Isolates made ahead (TenantIsolate.ahead), no tenant's yet. */
  readonly #blanks: TenantIsolate[] = []
  readonly #maxBlanks: number
  /** The limit they are made with: the options', or else the last cold start's. */
  #blankMemoryMb: number | undefined
  #blanksPending = false
  #runsInFlight = 0
  #closed = false

  constructor(options: IsolateHostOptions) {
    this.#options = options
    this.#bridge = new HostBridge(options.registry ?? HostRegistry.withDefaults())
    this.#isolates = new LRUCache<string, TenantIsolate>({
      max: options.maxIsolates,
      ttl: options.isolateIdleMs,
      updateAgeOnGet: true,
      dispose: (tenant) => tenant.retire(),
    })
    // Idle isolates go on one timer per thread. lru-cache's ttlAutopurge keeps a timer per entry
    // and, with updateAgeOnGet, clears and sets it again on every get: a timer per run.
    this.#idleSweep = setInterval(() => this.#isolates.purgeStale(), idleSweepMs(options.isolateIdleMs))
    this.#idleSweep.unref()
    this.#maxBlanks = options.blankIsolates ?? BLANK_ISOLATES
    this.#blankMemoryMb = options.blankMemoryMb
    this.#makeBlanksSoon()
  }

  stats(): WorkerStats {
    return { ...this.#stats, isolates: this.#isolates.size, blankIsolates: this.#blanks.length }
  }

  /** Lets go of a tenant's isolate and its programs now: disposed once its runs in flight are done (protocol.ts TenantEvictor). */
  evict(tenantId: string): Evicted {
    const tenant = this.#isolates.peek(tenantId)
    if (tenant === undefined) return { isolates: 0, programs: 0 }
    const programs = tenant.programCount
    // The LRU's dispose retires it.
    this.#isolates.delete(tenantId)
    return { isolates: 1, programs }
  }

  /** Retires every isolate (each is disposed once its runs are done). */
  close(): void {
    this.#closed = true
    clearInterval(this.#idleSweep)
    for (const blank of this.#blanks.splice(0)) blank.retire()
    this.#isolates.clear()
    this.#checker?.dispose()
    this.#checker = null
  }

  /**
   * Retires every isolate and resolves once each is disposed with nothing of it left on
   * isolated-vm's pool (TenantIsolate.settled): the thread may end then.
   */
  async shutdown(): Promise<void> {
    const tenants = [...this.#isolates.values(), ...this.#blanks]
    this.close()
    await Promise.all(tenants.map((tenant) => tenant.settled()))
  }

  /**
   * Disposes every isolate now, its runs in flight ended RUNNER_CRASHED (a thread ending on an
   * uncaught error, worker.ts), and resolves once nothing of them executes on isolated-vm's pool.
   */
  async abandon(): Promise<void> {
    const tenants = [...this.#isolates.values(), ...this.#blanks]
    this.close()
    for (const tenant of tenants) tenant.kill('RUNNER_CRASHED')
    await Promise.all(tenants.map((tenant) => tenant.settled()))
  }

  /**
   * Whether a run of `task` would have to compile its program: no usable isolate of the tenant
   * holds it. A task that names its program without its source must not run then.
   */
  lacks(task: NamedTask): boolean {
    const tenant = this.#isolates.peek(task.program.tenantId)
    return tenant === undefined || !tenant.usable || !fitsHeap(tenant, task) || !tenant.has(task.program)
  }

  /** Runs a task; its program's source may be left out when `lacks(task)` said it is held. */
  async run(task: NamedTask): Promise<RunResult> {
    this.#runsInFlight++
    try {
      const started = performance.now()
      const { tenant, start } = this.#tenantIsolate(task)
      const dispatched = tenant.starting()
      const limits = new LimitEnforcer(task.limits)
      // The run's CPU is its own code's (cpu-ledger.ts): the isolate's account names its entries.
      const run = this.#bridge.begin(task.program.tenantId, limits, task.trace && { ...task.trace, scriptId: task.program.scriptId }, tenant.cpuAccount, nearVersionOf(task))
      // Its later steps (host calls' answers) may enter synchronously on the same terms as its first (#answerSteps).
      const key = programKey(task.program)
      if (this.#stepCosts.sync(key)) run.syncKey = key
      // A limit the run goes over ends it alone, its siblings spared (watchdog.ts).
      const stop = this.#watchdog.watch(tenant, limits, run)
      let raw: DispatchResult | null = null
      let failure: ErrorData | null = null
      try {
        // A program held already starts the run in this turn: a batch's runs go into the isolate
        // back to back, each taking the result of the one before (tenant-isolate.ts Program.dispatch).
        const program = tenant.programNow(task.program) ?? (await tenant.program(task.program))
        // Synchronously only into a quiet isolate: behind a sibling's asynchronous step the call would wait holding the thread (tenant-isolate.ts quiet).
        const step = tenant.quiet ? this.#firstStep(key, task, started) : undefined
        if (step === undefined) this.#stats.poolSteps++
        else this.#stats.threadSteps++
        const firstStep = this.#dispatch(program, run, task, step)
        dispatched()
        raw = await run.result
        // Unhandled rejections are logged into the run, as Workers does: each step reports those it
        // left, the first step here, the later ones (host calls' answers) into run.rejections; an
        // asynchronous one's is in once unhandledRejection has waited for the steps still out.
        const rejections = [await firstStep]
        if (run.hostCalls > 0 && !tenant.disposed) rejections.push(await program.unhandledRejection())
        if (run.rejections !== null) rejections.push(...run.rejections)
        for (const rejection of rejections) if (rejection !== null) logUnhandledRejection(raw, rejection)
      } catch (error) {
        dispatched()
        if (error instanceof StepTimeout) {
          this.#stepCosts.ban(key)
          limits.exceed(error.code)
          tenant.kill(error.code, run)
        }
        // A run that never started (compile failed) ends here; so must its bridge record.
        run.abort(error)
        failure = isSibling(error) ? error.data : tenant.killReason !== null ? new RunnerError(tenant.killReason).data : toErrorData(error)
      }
      const cpuNs = stop()
      // Hot runs only: a cold or warm run's CPU includes compiling the program. Per step (each host
      // call's answer is one): what decides is how long one step holds the thread, and a run of 90
      // quick `ctx.cache.get`s over 2 ms in all kept its every answer off the thread (a hop to
      // isolated-vm's pool and back per call).
      if (start === 'hot' && failure?.code !== 'SCRIPT_SIBLING_LIMIT') this.#stepCosts.record(key, Number(cpuNs) / (run.hostCalls + 1))
      // Every hot run that went well may reuse a recent reading; anything else reads it afresh.
      // Never a synchronous read behind a run the watchdog ended early: its code may still hold the isolate.
      const heapBytes = run.endedEarly ? tenant.sampledHeapBytes(false, true) : tenant.sampledHeapBytes(start !== 'hot' || failure !== null || raw === null || raw.error !== undefined)
      if (!tenant.disposed && tenant.atMemoryLimit(heapBytes, raw?.error)) {
        tenant.kill('SCRIPT_MEMORY_LIMIT')
        limits.exceed('SCRIPT_MEMORY_LIMIT', `the isolate reached its memory limit of ${tenant.memoryMb} MB`)
      }
      if (tenant.disposed && this.#isolates.get(tenant.tenantId) === tenant) this.#isolates.delete(tenant.tenantId)
      const metrics: RunMetrics = {
        wallMs: performance.now() - started,
        cpuMs: Number(cpuNs) / 1e6,
        heapBytes,
        apiCalls: limits.apiCalls,
        outputBytes: logBytes(raw),
        start,
      }
      // An API-call limit is the run's own doing even when the script then failed another way.
      if (limits.exceeded?.code === 'SCRIPT_API_CALL_LIMIT') failure = limits.exceeded
      else failure = limits.exceeded ?? failure
      if (failure !== null || raw === null) {
        const logs = Array.isArray(raw?.logs) ? raw.logs : []
        return failedRun(failure ?? toErrorData(new RunnerError('SCRIPT_ERROR')), metrics, logs)
      }
      return settle(raw, task.kind, limits, metrics)
    } finally {
      if (--this.#runsInFlight === 0) this.#makeBlanksSoon()
    }
  }

  /** Dispatches a run; a synchronous first step is marked for the shard while it holds the thread (run-claims.ts). */
  #dispatch(program: Program, run: BridgeRun, task: NamedTask, step: SyncStep | undefined): Promise<unknown> {
    const args = runArgs(task)
    if (step === undefined) return program.dispatch(run, task.kind, args, task.limits.outputBytes, step)
    return this.#holding(() => program.dispatch(run, task.kind, args, task.limits.outputBytes, step))
  }

  /** Runs a synchronous step with the thread marked as held for its shard meanwhile (run-claims.ts). */
  #holding<T>(step: () => T): T {
    const steps = this.#options.steps
    if (steps === undefined) return step()
    beginStep(steps)
    try {
      return step()
    } finally {
      endStep(steps)
    }
  }

  /**
   * How host calls' answers enter a run's isolate: synchronously on this thread for a run whose
   * program may step synchronously (its syncKey), bounded by what is left of its CPU or wall time;
   * one that goes over its bound ends the run as a first step's does, and the program's steps go
   * to isolated-vm's pool from then on.
   */
  readonly #answerSteps: AnswerSteps = {
    bound: (run) => {
      if (run.syncKey === null || !this.#stepCosts.sync(run.syncKey)) return undefined
      const limits = run.limits.limits
      const cpuLeft = limits.cpuMs - run.cpu.ns() / 1e6
      const wallLeft = limits.timeoutMs - (performance.now() - run.started)
      if (cpuLeft <= 0 || wallLeft <= 0) return undefined // the watchdog ends it
      return stepBound(cpuLeft, wallLeft)
    },
    timedOut: (run, code) => {
      if (run.syncKey !== null) this.#stepCosts.ban(run.syncKey)
      run.limits.exceed(code)
    },
    pooled: () => {
      this.#stats.poolAnswers++
    },
    tookResult: () => {
      this.#stats.resultTakes++
    },
    hold: (step) => {
      this.#stats.threadAnswers++
      this.#holding(step)
    },
  }

  /**
   * How a run's first step enters its isolate: synchronously (see SyncStep), bounded by what is
   * left of its CPU or wall time, whichever is less, for a program whose runs have been short
   * (step-costs.ts); else asynchronously (undefined).
   */
  #firstStep(key: string, task: NamedTask, started: number): SyncStep | undefined {
    if (!this.#stepCosts.sync(key)) return undefined
    return stepBound(task.limits.cpuMs, task.limits.timeoutMs - (performance.now() - started))
  }

  /** Compiles a source without running it: syntax errors with line and column, and no imports. */
  async check(source: string): Promise<CheckResult> {
    if (this.#checker === null || this.#checker.isDisposed) this.#checker = new ivm.Isolate({ memoryLimit: 32 })
    let module: ivm.Module | null = null
    try {
      module = await this.#checker.compileModule(source, { filename: SCRIPT_FILENAME })
      const imports = module.dependencySpecifiers.filter((specifier) => !isNodeModule(specifier))
      if (imports.length > 0) {
        // With the line and column of the import, as for a syntax error.
        const error = importError(source) ?? new RunnerError('SCRIPT_IMPORT_FORBIDDEN', `import of "${imports[0]}" is not allowed: scripts are self-contained modules`)
        return { ok: false, handlers: [], error: error.data }
      }
      const forbidden = importError(source)
      if (forbidden !== null) return { ok: false, handlers: [], error: forbidden.data }
      return { ok: true, handlers: [] }
    } catch (error) {
      return { ok: false, handlers: [], error: syntaxError(error, source).data }
    } finally {
      module?.release()
    }
  }

  /**
   * Makes isolates ahead (TenantIsolate.ahead), one a turn, while no run is in flight: about 5 ms
   * of the thread each, which a run arriving meanwhile waits for, but only after a cold start took
   * one (or at the start), so at most one such wait per cold start. A runner's standby starts with
   * them made, for the tenants of the runner it replaces.
   */
  #makeBlanksSoon(): void {
    if (this.#blanksPending || this.#closed || this.#blankMemoryMb === undefined) return
    const wanted = this.#blankMemoryMb
    if (this.#blanks.length >= this.#maxBlanks && this.#blanks.every((blank) => takeable(blank, wanted))) return
    this.#blanksPending = true
    setImmediate(() => {
      this.#blanksPending = false
      if (this.#closed || this.#runsInFlight > 0 || this.#blankMemoryMb === undefined) return
      const memoryMb = this.#blankMemoryMb
      // Those of a limit no longer asked for (or disposed meanwhile) would go unused.
      for (let i = this.#blanks.length - 1; i >= 0; i--) {
        if (!takeable(this.#blanks[i] as TenantIsolate, memoryMb)) this.#blanks.splice(i, 1)[0]?.retire()
      }
      if (this.#blanks.length >= this.#maxBlanks) return
      try {
        this.#blanks.push(TenantIsolate.ahead(this.#isolateOptions(memoryMb)))
      } catch {
        // No isolate could be made (memory): cold starts make their own, as without blanks.
        return
      }
      this.#makeBlanksSoon()
    })
  }

  /** The oldest made ahead of heap limit `memoryMb` and still usable, if any. */
  #takeBlank(memoryMb: number): TenantIsolate | undefined {
    const index = this.#blanks.findIndex((blank) => takeable(blank, memoryMb))
    return index === -1 ? undefined : this.#blanks.splice(index, 1)[0]
  }

  #isolateOptions(memoryMb: number): Omit<TenantIsolateOptions, 'tenantId'> {
    return { memoryMb, platform: this.#options.platform, bridge: this.#bridge, maxPrograms: this.#options.maxProgramsPerTenant, answerSteps: this.#answerSteps }
  }

  #tenantIsolate(task: NamedTask): { tenant: TenantIsolate; start: RunMetrics['start'] } {
    const existing = this.#isolates.get(task.program.tenantId)
    // One memory limit per tenant isolate (the heap is the tenant's, shared by its scripts): the
    // tenant's quota when the task carries it (fitsHeap), else the largest its runs asked for.
    if (existing !== undefined && existing.usable && fitsHeap(existing, task)) {
      this.#stats.isolateHits++
      const hot = existing.has(task.program)
      if (hot) this.#stats.programHits++
      else this.#stats.programMisses++
      return { tenant: existing, start: hot ? 'hot' : 'warm' }
    }
    this.#stats.isolateMisses++
    this.#stats.programMisses++
    const memoryMb = task.isolateMemoryMb ?? Math.max(task.limits.memoryMb, existing?.memoryMb ?? 0)
    // Without a limit given, the next are made ahead for the limit cold starts ask for now. A given
    // one stays: a tenant of another quota (a crasher's 16 MB, say) must not undo those made ahead
    // for everyone else.
    if (this.#options.blankMemoryMb === undefined) this.#blankMemoryMb = memoryMb
    const blank = this.#takeBlank(memoryMb)
    if (blank !== undefined) {
      this.#stats.blankStarts++
      blank.adopt(task.program.tenantId)
    }
    const tenant = blank ?? new TenantIsolate({ tenantId: task.program.tenantId, ...this.#isolateOptions(memoryMb) })
    this.#isolates.set(task.program.tenantId, tenant)
    return { tenant, start: 'cold' }
  }
}

/** A synchronous step's bound: what is left of the run's CPU or wall time (ms), whichever is less. */
function stepBound(cpuLeftMs: number, wallLeftMs: number): SyncStep {
  return cpuLeftMs < wallLeftMs ? { timeoutMs: cpuLeftMs, code: 'SCRIPT_CPU_LIMIT' } : { timeoutMs: Math.max(1, wallLeftMs), code: 'SCRIPT_TIMEOUT' }
}

/** How often idle isolates are looked for: an isolate goes between `idleMs` and 1.25x `idleMs` after its last run. */
function idleSweepMs(idleMs: number): number {
  return Math.min(30_000, Math.max(10, Math.floor(idleMs / 4)))
}

/** Whether an isolate made ahead can still be taken by a cold start of heap limit `memoryMb`. */
function takeable(blank: TenantIsolate, memoryMb: number): boolean {
  return blank.memoryMb === memoryMb && blank.usable
}

/**
 * Whether a live isolate has the heap limit a run needs: exactly the tenant's (`isolateMemoryMb`,
 * so a raised or lowered quota takes effect at the next run), or without it at least the run's own.
 */
function fitsHeap(tenant: TenantIsolate, task: NamedTask): boolean {
  return task.isolateMemoryMb === undefined ? tenant.memoryMb >= task.limits.memoryMb : tenant.memoryMb === task.isolateMemoryMb
}

/** Adds an unhandled rejection to the run's logs at level error, with the tenant's frames of its stack. */
function logUnhandledRejection(raw: DispatchResult, reason: unknown): void {
  const text = reason instanceof Error ? tenantStack(reason.stack ?? `${reason.name}: ${reason.message}`) : `Uncaught ${String(reason)}`
  const message = `Uncaught (in promise) ${text}`
  if (!Array.isArray(raw.logs)) return
  raw.logs.push({ level: 'error', message, time: Date.now() })
  raw.logBytes = (typeof raw.logBytes === 'number' ? raw.logBytes : 0) + Buffer.byteLength(message)
}

/** What the run logged, in UTF-8 bytes, as the isolate counted it (lines past the limit included). */
function logBytes(raw: DispatchResult | null): number {
  const bytes = raw?.logBytes
  return typeof bytes === 'number' && Number.isFinite(bytes) && bytes >= 0 ? bytes : 0
}

/** A finished run's result from what the isolate handed back; the output limit is judged here. */
function settle(raw: DispatchResult, kind: RunTask['kind'], limits: LimitEnforcer, metrics: RunMetrics): RunResult {
  const logs = Array.isArray(raw.logs) ? raw.logs : []
  const logSize = metrics.outputBytes
  if (raw.outputExceeded === true) {
    // The isolate stopped keeping log lines at the limit: the lines that fit are kept.
    limits.exceed('SCRIPT_OUTPUT_LIMIT', `the run produced ${logSize} bytes of output, over its limit of ${limits.limits.outputBytes}`)
    return { ok: false, error: limits.exceeded as ErrorData, logs, metrics }
  }
  if (raw.failure !== undefined) {
    const code = raw.failure.code === 'HANDLER_NOT_FOUND' || raw.failure.code === 'SCRIPT_INVALID_RESPONSE' ? raw.failure.code : 'SCRIPT_INVALID_EXPORT'
    return { ok: false, error: new RunnerError(code, raw.failure.message).data, logs, metrics }
  }
  if (raw.error !== undefined) return { ok: false, error: scriptError(raw.error), logs, metrics }
  let bodyBytes = 0
  let response: HttpResponseData | undefined
  if (kind === 'fetch') {
    const checked = checkResponse(raw.response)
    if ('code' in checked) return { ok: false, error: checked, logs, metrics }
    response = checked
    const body = response.body
    bodyBytes = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
  } else {
    bodyBytes = raw.output === undefined ? 0 : Buffer.byteLength(JSON.stringify(raw.output) ?? '')
  }
  metrics.outputBytes = bodyBytes + logSize
  if (!limits.checkOutput(metrics.outputBytes)) return { ok: false, error: limits.exceeded as ErrorData, logs, metrics }
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

/** An error the script threw, with the stack cut to the tenant's own frames. */
function scriptError(error: NonNullable<DispatchResult['error']>): ErrorData {
  const stack = tenantStack(String(error.stack ?? ''))
  const location = stackLocation(stack)
  return { code: 'SCRIPT_ERROR', name: String(error.name), message: String(error.message), stack, ...location }
}

/** Ended with its isolate because a sibling run went over its limit (tenant-isolate.ts kill). */
function isSibling(error: unknown): error is RunnerError {
  return error instanceof RunnerError && error.code === 'SCRIPT_SIBLING_LIMIT'
}
