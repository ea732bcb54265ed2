import { performance } from 'node:perf_hooks'
import ivm from 'isolated-vm'
import { LRUCache } from 'lru-cache'
import { RunnerError, type ErrorData, type RunnerErrorCode } from '../errors.js'
import { resultFromIsolate, type BridgeRun, type DispatchResult, type Envelope, type HostBridge } from './host-bridge.js'
import { IsolateCpuAccount } from './cpu-ledger.js'
import { importError, isNodeModule, nodeModuleSource } from './imports.js'
import { randomBytes } from 'node:crypto'
import { programKey, type NamedProgram, type RunArgs } from '../protocol.js'
import { RunTable } from '../run-table.js'
import { SCRIPT_FILENAME, pointer, splitMessageLocation, stackLocation, tenantStack } from './source-location.js'

/** A script of the platform, and V8 code cache for it that this process produced (platform-cache.ts). */
export interface PlatformScript {
  readonly source: string
  readonly cachedData?: ivm.ExternalCopy<ArrayBuffer> | undefined
}

/** The platform's core, run in every context, and its chunks by name, each run in a context on first use there. */
export interface PlatformCode extends PlatformScript {
  readonly chunks: ReadonlyMap<string, PlatformScript>
}

/** A context with the platform booted, before a program is evaluated in it. */
interface PreparedContext {
  readonly context: ivm.Context
  readonly register: ivm.Reference
  readonly dispatch: ivm.Reference
  readonly take: ivm.Reference
  readonly warmUp: ivm.Reference
  readonly openNodeModules: ivm.Reference
  readonly closeNodeModules: ivm.Reference
  /** Every Reference into the context, released before it. */
  readonly refs: ivm.Reference[]
  readonly release: () => void
}

/** A compiled script version, evaluated in a context of its own inside the tenant's isolate. */
export interface Program {
  readonly id: string
  /**
   * Starts a run; its result arrives through the host bridge. Settles once the run's first step in
   * the isolate is done, with the reason of a promise rejection nobody handled in that step (as
   * isolated-vm reports it), or null. Throws StepTimeout when a synchronous first step went over
   * its bound.
   */
  readonly dispatch: (run: BridgeRun, kind: string, args: RunArgs, outputLimit: number, step?: SyncStep) => Promise<unknown>
  /**
   * Resolves once every step of the isolate that may still be out has returned (each reports the
   * unhandled rejections it left into its run): at once when the isolate is quiet, else behind an
   * entry queued after them, with the reason of a rejection that entry met (or null).
   */
  readonly unhandledRejection: () => Promise<unknown>
  readonly release: () => void
}

/**
 * A run's first step taken synchronously, on the worker thread itself: no hop to isolated-vm's
 * thread pool and back (measured: ~3 us against ~30 us for an empty call), and a run that finishes
 * in that step (most: no host call, no timer) hands its result back synchronously instead of
 * through `complete`: with the next run's dispatch into the same context, or by a call of its own.
 * The watchdog's timer cannot fire during a synchronous call, so the step carries its own bound:
 * isolated-vm's `timeout`, the run's remaining CPU or wall time.
 */
export interface SyncStep {
  /** Wall-clock bound of the step (ms); past it the step is stopped and the run ends with `code`. */
  readonly timeoutMs: number
  readonly code: RunnerErrorCode
}

/** The synchronous first step went over its bound: the run ends with `code` (isolate-host.ts). */
export class StepTimeout extends Error {
  readonly code: RunnerErrorCode
  constructor(code: RunnerErrorCode) {
    super('the run\'s first step went over its limit')
    this.code = code
  }
}

export interface TenantIsolateOptions {
  /** Its tenant; null for an isolate made ahead, which a tenant takes later (adopt). */
  tenantId: string | null
  memoryMb: number
  platform: PlatformCode
  bridge: HostBridge
  /** Programs kept per tenant (LRU). */
  maxPrograms: number
  /** How host calls' answers may enter synchronously; without it, always on isolated-vm's pool. */
  answerSteps?: AnswerSteps
}

/** The host's say in how a run's later steps (host calls' answers) enter its isolate (isolate-host.ts). */
export interface AnswerSteps {
  /** The bound of a synchronous step for `run`, or undefined: its answer goes to isolated-vm's pool. */
  bound(run: BridgeRun): SyncStep | undefined
  /** A synchronous step of `run` went over its bound: the run ends with `code` (the isolate is disposed after this). */
  timedOut(run: BridgeRun, code: RunnerErrorCode): void
  /** Runs a synchronous step, the thread marked as held meanwhile (run-claims.ts). */
  hold(step: () => void): void
  /** An answer went to isolated-vm's pool (counted). */
  pooled(): void
  /** A run's result came out of its isolate by a call of its own, not with the next run's dispatch (counted). */
  tookResult(): void
}

export const PLATFORM_FILENAME = 'isogate:platform'
/** A chunk's file name in stack traces: not the tenant's (see source-location.ts). */
export const chunkFilename = (name: string): string => `${PLATFORM_FILENAME}:${name}`
const ALLOCATION_FAILED = /^Array buffer allocation failed/
/** At most this many runs pass between two readings of an isolate's heap (see sampledHeapBytes). */
const HEAP_SAMPLE_RUNS = 16
const TIMED_OUT = /^Script execution timed out/

/**
 * One tenant's V8 isolate and its compiled programs, each in a context of its own: a tenant's
 * scripts do not share globals or prototypes. Nothing in here is ever shared with another tenant.
 * An isolate that hit its CPU or memory limit is condemned: disposed and never reused.
 */
export class TenantIsolate {
  /** Its tenant: set at construction, or when a tenant takes an isolate made ahead (adopt), once. */
  #tenantId: string | null
  readonly memoryMb: number
  #isolate: ivm.Isolate
  #platformCode: PlatformCode
  #platform: ivm.Script
  /** The platform chunks this isolate compiled so far, by name. */
  #chunks = new Map<string, ivm.Script>()
  #bridge: HostBridge
  #programs: LRUCache<string, Promise<Program>>
  /** Runs in flight in this isolate, by id: one entry per run, so not a Set (see ../run-table.ts). */
  #runs = new RunTable<number, BridgeRun>()
  #retired = false
  #disposedAll = false
  /** Programs compiled so far; a spare context is kept once a further one arrives. */
  #compiled = 0
  /** The last number a program was given in this isolate: runs name their program by it (platform/index.js `programs`). */
  #programNumbers = 0
  #spare: PreparedContext | null = null
  #sparePending = false
  #wantSpare = false
  #killReason: RunnerErrorCode | null = null
  /** The run whose limit condemned the isolate, when one did (see kill). */
  #culprit: unknown = null
  /** The CPU clock at disposal, so a run that was stopped still reports what it used. */
  #finalCpuNs = 0n
  /** Which run's code the CPU went to (cpu-ledger.ts), shared with the platform in every context. */
  readonly cpuAccount: IsolateCpuAccount
  #absorber: ivm.Script
  #lastHeapBytes = 0
  #runsSinceHeap = 0
  #heapReading = false
  /** A heap reading started behind a run the watchdog ended early: done only once that run's code is (see quiet). */
  #heapSentinel = false
  /** Asynchronous steps (first steps, host calls' answers, a spare's warm-up) not returned yet: each may be executing the isolate's code on isolated-vm's pool (#onPool). */
  #asyncSteps = 0
  /** Who waits for the isolate to be disposed with nothing of it left on isolated-vm's pool (settled). */
  #whenSettled: Array<() => void> = []
  readonly #answerSteps: AnswerSteps | undefined
  /** Programs being compiled: their top-level code runs asynchronously, on isolated-vm's pool. */
  #compiling = 0
  /** Runs that took this isolate and are not dispatched yet (their program compiling): retiring waits for them too. */
  #starting = 0

  constructor(options: TenantIsolateOptions) {
    this.#tenantId = options.tenantId
    this.memoryMb = options.memoryMb
    this.#bridge = options.bridge
    this.#answerSteps = options.answerSteps
    this.#isolate = new ivm.Isolate({ memoryLimit: options.memoryMb })
    this.#platformCode = options.platform
    this.#platform = compilePlatformScript(this.#isolate, options.platform, PLATFORM_FILENAME)
    this.#absorber = this.#isolate.compileScriptSync('0')
    this.cpuAccount = new IsolateCpuAccount(this.#bridge.ledger, () => Number(this.cpuTimeNs()))
    this.#programs = new LRUCache<string, Promise<Program>>({
      max: options.maxPrograms,
      dispose: (program) => {
        program.then((p) => p.release(), () => undefined)
      },
    })
  }

  /**
   * An isolate made ahead of the tenant that will take it (isolate-host.ts), while its thread had
   * nothing else to do: V8's isolate, the platform compiled and booted in a spare context, warmed
   * up as a spare is, which is most of a cold start. It has no tenant, so no run, and no host call
   * from it is answered (host-bridge.ts forContext) until one takes it. No tenant code ever ran
   * in it, and the tenant that takes it owns it from then on, as if it had been made for it.
   */
  static ahead(options: Omit<TenantIsolateOptions, 'tenantId'>): TenantIsolate {
    const made = new TenantIsolate({ ...options, tenantId: null })
    try {
      // Warmed up on this thread: a warm-up left on the pool would share it with the first run of
      // the tenant that takes another one made ahead (measured: 5 against 3 ms a cold start).
      made.#makeSpare(true)
    } catch (error) {
      made.retire()
      throw error
    }
    return made
  }

  /** Its tenant; an isolate made ahead has none until adopted (ahead). */
  get tenantId(): string {
    if (this.#tenantId === null) throw new Error('an isolate made ahead has no tenant until one takes it')
    return this.#tenantId
  }

  /** Whether it was made ahead and no tenant took it yet. */
  get unowned(): boolean {
    return this.#tenantId === null
  }

  /** `tenantId` takes this isolate made ahead: its from now on, and only once. */
  adopt(tenantId: string): void {
    if (this.#tenantId !== null) throw new Error(`this isolate is ${this.#tenantId}'s already`)
    this.#tenantId = tenantId
  }

  get disposed(): boolean {
    return this.#isolate.isDisposed
  }

  /**
   * Nothing of the isolate may be executing on isolated-vm's pool: no asynchronous step of ours
   * pending (a first step entered asynchronously, a program compiling), no run that a host call's
   * answer may have resumed there, no heap reading behind a run the watchdog ended early. Only then
   * may a run's first step enter it synchronously (isolate-host.ts): a synchronous call waits for
   * the isolate's lock, and behind a tenant's asynchronous loop it would hold the worker thread,
   * and the watchdog's timer on it, for good (issue 20).
   *
   * A run in flight is not executing between its steps: an isolate has no event loop of its own,
   * and every entry into it is ours, counted here. That includes a host call's answer: the host
   * hands it in (deliver), where a promise result of isolated-vm's would have resumed the script
   * on the pool at a time of isolated-vm's choosing. Counting every run in flight instead made one
   * asynchronous entry beget the next under load: 40% of hello runs took the asynchronous path,
   * a task on isolated-vm's pool each, and every step of a tenant making host calls.
   */
  get quiet(): boolean {
    return this.#compiling === 0 && this.#nothingOnPool
  }

  /** No step of ours out on isolated-vm's pool and no heap reading queued there (quiet, but for a compile in progress). */
  get #nothingOnPool(): boolean {
    return this.#asyncSteps === 0 && !this.#heapSentinel
  }

  /** Retired or disposed: no new run may start here. */
  get usable(): boolean {
    return !this.#retired && !this.#isolate.isDisposed
  }

  /** Why the isolate was stopped, when a limit stopped it. */
  get killReason(): RunnerErrorCode | null {
    return this.#killReason
  }

  /** The isolate's CPU clock: what its platform reads (cpu-ledger.ts); frozen at disposal. */
  cpuTimeNs(): bigint {
    return this.#isolate.isDisposed ? this.#finalCpuNs : this.#isolate.cpuTime
  }

  /**
   * The isolate's heap after a run, read every HEAP_SAMPLE_RUNS runs and whenever it can matter:
   * when the caller says so (a new program, a failed run) and when the last reading was at half
   * the limit or more. A reading is synchronous (~3 us) when the isolate is quiet, and otherwise
   * asynchronous, landing for a later run: a synchronous read waits for the isolate's lock, so
   * behind code executing on isolated-vm's pool it would stall the whole worker thread (measured:
   * 13-18% of a worker's busy time). An asynchronous reading costs ~40 us of CPU, so it is never the
   * routine one when a synchronous read can be had. The limit does not rest on this reading: V8
   * disposes an isolate whose heap reaches memoryLimit, and isolated-vm's allocator refuses
   * ArrayBuffers past it; this catches what got close without either firing.
   */
  sampledHeapBytes(force: boolean, noWait = false): number {
    if (this.#isolate.isDisposed) return 0
    this.#runsSinceHeap++
    const due = force || this.#lastHeapBytes * 2 >= this.memoryLimitBytes || this.#runsSinceHeap >= HEAP_SAMPLE_RUNS
    if (!due && !noWait) return this.#lastHeapBytes
    if (noWait || !this.quiet) return this.#readHeapLater(noWait)
    this.#runsSinceHeap = 0
    this.#lastHeapBytes = this.heapBytes()
    return this.#lastHeapBytes
  }

  /** Starts an asynchronous heap reading (one at a time) that lands for a later run; answers the last one. */
  #readHeapLater(sentinel = false): number {
    // A sentinel starts even while a routine reading is in flight: it must be queued after the ended run's code.
    if (this.#heapReading && (!sentinel || this.#heapSentinel)) return this.#lastHeapBytes
    this.#runsSinceHeap = 0
    this.#heapReading = true
    if (sentinel) this.#heapSentinel = true
    const done = (): void => {
      this.#heapReading = false
      if (sentinel) this.#heapSentinel = false
    }
    this.#isolate.getHeapStatistics().then(
      (stats) => {
        done()
        if (!this.#isolate.isDisposed) this.#lastHeapBytes = limitedBytes(stats)
      },
      () => {
        // Disposed meanwhile, or it took a tenant's stale rejection: the next sample reads again.
        done()
      },
    )
    return this.#lastHeapBytes
  }

  /** V8 heap in use plus ArrayBuffer memory: what memoryLimit bounds. */
  heapBytes(): number {
    if (this.#isolate.isDisposed) return 0
    let stats: ivm.HeapStatistics
    try {
      stats = this.#isolate.getHeapStatisticsSync()
    } catch {
      // It took a tenant's stale unhandled rejection (see #absorbRejections); the retry is clean.
      if (this.#isolate.isDisposed) return 0
      stats = this.#isolate.getHeapStatisticsSync()
    }
    return limitedBytes(stats)
  }

  get memoryLimitBytes(): number {
    return this.memoryMb * 1024 * 1024
  }

  /**
   * Condemns the isolate: disposed, and its runs end with `reason`; with a `culprit` (the run that
   * went over its CPU or wall-clock limit) only that one does, and the others end with
   * SCRIPT_SIBLING_LIMIT, which the gateway runs again on a fresh isolate when they caused no effect.
   */
  kill(reason: RunnerErrorCode, culprit?: unknown): void {
    this.#killReason ??= reason
    this.#culprit ??= culprit ?? null
    this.#dispose()
  }

  /**
   * Disposes the isolate once its runs in flight are done (idle or evicted isolates): those runs
   * are not the tenant's fault and finish normally.
   */
  retire(): void {
    this.#retired = true
    if (this.#runs.size === 0 && this.#starting === 0) this.#dispose()
  }

  /**
   * A run took this isolate and will dispatch into it: until it calls the function returned (once
   * dispatched, or failed before), a retired isolate is not disposed under it. An evicted
   * isolate whose run was still compiling its program failed that run as over its memory limit.
   */
  starting(): () => void {
    this.#starting++
    let done = false
    return () => {
      if (done) return
      done = true
      this.#starting--
      if (this.#retired && this.#runs.size === 0 && this.#starting === 0) this.#dispose()
    }
  }

  #dispose(): void {
    if (this.#disposedAll) return
    this.#disposedAll = true
    this.#programs.clear()
    this.#spare?.release()
    this.#spare = null
    if (!this.#isolate.isDisposed) {
      this.#finalCpuNs = this.#isolate.cpuTime
      this.#isolate.dispose()
    }
    // An isolate that isolated-vm disposed itself went over its memory limit.
    const error = new RunnerError(this.#killReason ?? 'SCRIPT_MEMORY_LIMIT')
    const sibling = siblingLimit(error.code)
    for (const run of this.#runs.values()) run.abort(this.#culprit === null || run === this.#culprit ? error : sibling)
    this.#runs.clear()
    this.#checkSettled()
  }

  /**
   * Resolves once the isolate is disposed (retire it first: its runs in flight finish) and nothing
   * of it executes on isolated-vm's pool any more. A worker thread must not end before: code on the
   * pool may be in a synchronous call to the thread (the platform loading a chunk, a spare's
   * warm-up), and isolated-vm's teardown of an ending thread waits for the pool's task, which waits
   * for the thread, for good.
   */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      this.#whenSettled.push(resolve)
      this.#checkSettled()
    })
  }

  /**
   * Before an entry into the isolate that is no run's (a context's platform start, a program's
   * top-level code): its CPU is charged to no run, not to the run that executed last
   * (IsolateCpuAccount.idle). Skipped while a step may be executing on isolated-vm's pool: the
   * books have one writer at a time, and that step's run is then the one executing.
   */
  #idle(): void {
    if (this.#nothingOnPool && !this.#isolate.isDisposed) this.cpuAccount.idle()
  }

  /**
   * Counts an asynchronous step (isolated-vm's promise of a call on its pool) until it returns:
   * the promise settles as the step's did, once the count (quiet, settled) knows it is over.
   */
  #onPool<T>(step: Promise<T>): Promise<T> {
    this.#asyncSteps++
    return step.finally(() => {
      this.#asyncSteps--
      this.#checkSettled()
    })
  }

  #checkSettled(): void {
    if (this.#whenSettled.length === 0 || !this.#disposedAll || this.#asyncSteps > 0 || this.#compiling > 0) return
    const waiting = this.#whenSettled
    this.#whenSettled = []
    for (const resolve of waiting) resolve()
  }

  /**
   * V8 code cache for a script this isolate compiled and ran: compiling the same source again
   * hits the isolate's compilation cache, so the cache includes every function compiled so far.
   */
  produceCodeCache(filename: string, source: string): ivm.ExternalCopy<ArrayBuffer> | undefined {
    // isolated-vm sets `cachedData` on the Script it returns; its typings leave it out.
    const script = this.#isolate.compileScriptSync(source, { filename, produceCachedData: true }) as ivm.Script & ivm.CachedDataResult
    return script.cachedData
  }

  /**
   * Evaluates a platform chunk's script in `context`, where platform code asked for it (chunks.js),
   * and hands back the factory it evaluates to: a synchronous host call that re-enters the isolate.
   * The script is one function expression, so nothing a tenant could have changed (a getter on
   * Object.prototype, say) runs here, on the worker's thread; the factory's body, the chunk's
   * module code, runs when the platform calls it, inside the run and under the watchdog.
   * Compiled once per isolate.
   */
  #runChunk(context: ivm.Context, name: unknown): ivm.Transferable {
    const chunk = typeof name === 'string' ? this.#platformCode.chunks.get(name) : undefined
    if (chunk === undefined) throw new TypeError(`isogate: there is no platform chunk ${String(name)}`)
    let script = this.#chunks.get(name as string)
    if (script === undefined) {
      script = compilePlatformScript(this.#isolate, chunk, chunkFilename(name as string))
      this.#chunks.set(name as string, script)
    }
    const factory = script.runSync(context, { reference: true }) as ivm.Reference
    try {
      return factory.derefInto()
    } finally {
      factory.release()
    }
  }

  /** The platform chunks some context of this isolate loaded so far, in load order. */
  get loadedChunks(): string[] {
    return [...this.#chunks.keys()]
  }

  /**
   * Whether this script version is compiled already (a hot start). Programs are keyed by
   * programKey() (script, version, source hash), never by source alone: two scripts with the same
   * source have a context and module state each, and a rollback (a new version) starts afresh.
   */
  has(ref: NamedProgram): boolean {
    return this.#programs.has(programKey(ref))
  }

  /** Programs compiled (or compiling) in this isolate now. */
  get programCount(): number {
    return this.#programs.size
  }

  /**
   * The program for a script version when it is compiled and ready, else undefined: a run of a
   * held program then starts within the caller's turn (isolate-host.ts run), with no microtask
   * between it and the runs beside it.
   */
  programNow(ref: NamedProgram): Program | undefined {
    const program = this.#programs.get(programKey(ref))
    return program === undefined ? undefined : readyPrograms.get(program)
  }

  /** The compiled program for a script version, compiling it on a miss (which needs its source). */
  program(ref: NamedProgram): Promise<Program> {
    const key = programKey(ref)
    let program = this.#programs.get(key)
    if (program === undefined) {
      const source = ref.source
      if (source === undefined) return Promise.reject(new Error(`the source of program ${key} did not reach this thread`))
      this.#compiling++
      const compiling = this.#compile(key, source)
      program = compiling
      compiling.then((ready) => readyPrograms.set(compiling, ready), () => undefined)
      const compiled = () => {
        this.#compiling--
        this.#checkSettled()
      }
      program.then(compiled, compiled)
      this.#programs.set(key, program)
      program.catch(() => this.#programs.delete(key))
    }
    return program
  }

  forget(ref: NamedProgram): void {
    this.#programs.delete(programKey(ref))
  }

  /**
   * Whether the isolate is at its memory limit after a run: an ArrayBuffer allocation was refused
   * (a catchable RangeError inside the isolate, see isolated-vm's LimitedAllocator) or heap plus
   * buffers reached the limit.
   */
  atMemoryLimit(heapBytes: number, error?: { name: string; message: string }): boolean {
    return heapBytes >= this.memoryLimitBytes || (error?.name === 'RangeError' && ALLOCATION_FAILED.test(error.message))
  }

  /**
   * An unhandled rejection left by tenant code is reported by isolated-vm as the failure of the
   * next non-ignored call into the isolate, whatever that call is (measured with 5.0.4). A no-op
   * run right before the platform's own synchronous steps takes it, so it cannot fail them. What
   * it cannot cover: a rejection left by a concurrent run of the same tenant between this and the
   * module's (asynchronous) evaluation fails that compile; the next run compiles again.
   */
  #absorbRejections(context: ivm.Context): void {
    try {
      this.#absorber.runSync(context)
    } catch {
      // A tenant's unhandled rejection from an earlier run: not this step's business.
    }
  }

  /**
   * A new context with the platform booted in it: the synchronous, trusted part of a compile.
   * The platform's steps are short and run no tenant code, so they need no thread hop.
   */
  #prepareContext(): PreparedContext {
    const refs: ivm.Reference[] = []
    let releaseBridge = (): void => undefined
    const context = this.#isolate.createContextSync()
    const chunk = new ivm.Reference((name: unknown) => this.#runChunk(context, name))
    const release = (): void => {
      // References into a context keep it alive: release them all before the context.
      for (const reference of refs) reference.release()
      releaseBridge()
      chunk.release()
      context.release()
    }
    try {
      this.#idle()
      this.#absorbRejections(context)
      const boot = this.#platform.runSync(context, { reference: true }) as ivm.Reference
      refs.push(boot)
      let answer: ivm.Reference | null = null
      // Read at each call: a context made ahead (ahead) has its tenant only once one takes it.
      const bridge = this.#bridge.forContext(() => this.#tenantId, (run, callId, envelope) => this.#deliver(answer, run, callId, envelope))
      releaseBridge = bridge.release
      // The isolate's own handle is its CPU clock: the platform reads only `cpuTime` of it (runtime.js).
      const books = [this.#isolate, bridge.ledger, new ivm.ExternalCopy(this.cpuAccount.buffer).copyInto({ release: true })]
      const entry = boot.applySync(undefined, [bridge.call, bridge.complete, bridge.toASCII, chunk, bridge.seed, bridge.exposed, ...books, bridge.peeked], { result: { reference: true } }) as ivm.Reference
      const get = (name: string): ivm.Reference => entry.getSync(name, { reference: true }) as ivm.Reference
      const prepared = {
        context, register: get('register'), dispatch: get('dispatch'), take: get('take'), warmUp: get('warmUp'),
        openNodeModules: get('openNodeModules'), closeNodeModules: get('closeNodeModules'), refs, release,
      }
      answer = get('answer')
      refs.push(entry, prepared.register, prepared.dispatch, prepared.take, prepared.warmUp, prepared.openNodeModules, prepared.closeNodeModules, answer)
      return prepared
    } catch (error) {
      release()
      throw error
    }
  }

  /**
   * After a tenant's isolate compiles a further program (a new version, another script), a spare
   * context is prepared once the isolate has no run in flight, so the next new program skips
   * context creation and platform start (about 0.8 ms), and no run waits behind the preparation.
   * Only isolates that see new programs keep one: each costs about 0.4 MB.
   */
  #prepareSpare(): void {
    if (this.#spare !== null || this.#sparePending || !this.usable) return
    this.#sparePending = true
    setImmediate(() => {
      this.#sparePending = false
      if (this.#spare !== null || !this.usable || this.#runs.size > 0) return
      try {
        this.#makeSpare()
      } catch {
        // The isolate went away meanwhile (disposed, over its limit): no spare, nothing lost.
        this.#spare = null
      }
    })
  }

  /**
   * A spare context, booted and warmed up like a context that served a run. The warm-up is a step
   * of its own on isolated-vm's pool (it loads the URL chunk with a synchronous call to this
   * thread: quiet, settled), or with `now` one on this thread: platform code only, as the boot.
   */
  #makeSpare(now = false): void {
    this.#spare = this.#prepareContext()
    if (now) this.#spare.warmUp.applySync(undefined, [])
    else this.#onPool(this.#spare.warmUp.apply(undefined, [])).catch(() => undefined)
  }

  async #compile(programId: string, source: string): Promise<Program> {
    const forbidden = importError(source)
    if (forbidden !== null) throw forbidden
    // The compile's steps are synchronous and wait for the isolate's lock: with runs in flight,
    // first wait (off the thread) for what is queued in the isolate, so a sibling's asynchronous
    // loop is met by the watchdog, not by a worker thread held on the lock (issue 20). Also while
    // anything is out on isolated-vm's pool with no run in flight (the heap reading behind a run
    // the watchdog ended early, a spare's warm-up): until it is back the books may not be
    // switched to no run (#idle), and the top-level code would be charged to that ended run.
    if (this.#runs.size > 0 || !this.#nothingOnPool) {
      await this.#isolate.getHeapStatistics().catch(() => undefined)
      if (this.#isolate.isDisposed) {
        // Stopped for another run's limit meanwhile: not this run's doing (it runs again elsewhere).
        if (this.#culprit !== null) throw siblingLimit(this.#killReason ?? 'SCRIPT_CPU_LIMIT')
        throw new RunnerError(this.#killReason ?? 'SCRIPT_MEMORY_LIMIT')
      }
    }
    const isolate = this.#isolate
    const further = this.#compiled > 0
    const programNumber = ++this.#programNumbers
    let prepared: PreparedContext | null = null
    try {
      prepared = this.#spare ?? this.#prepareContext()
      this.#spare = null
      const { context, register, dispatch, take, refs } = prepared
      this.#absorbRejections(context)
      const module = compileModule(isolate, source)
      const nodeModules: ivm.Module[] = []
      const nodeKey = `__isogate_node_${randomBytes(12).toString('hex')}`
      try {
        module.instantiateSync(context, (specifier) => {
          if (!isNodeModule(specifier)) {
            throw new RunnerError('SCRIPT_IMPORT_FORBIDDEN', `import of "${specifier}" is not allowed: scripts are self-contained modules`)
          }
          const node = isolate.compileModuleSync(nodeModuleSource(specifier, nodeKey), { filename: specifier })
          nodeModules.push(node)
          node.instantiateSync(context, () => {
            throw new RunnerError('SCRIPT_IMPORT_FORBIDDEN', `${specifier} imports nothing`)
          })
          return node
        })
        if (nodeModules.length > 0) prepared.openNodeModules.applySync(undefined, [nodeKey])
        // Tenant code (the module's top level) runs asynchronously, where the watchdog can stop it.
        try {
          this.#idle()
          await this.#onPool(module.evaluate())
        } finally {
          if (nodeModules.length > 0 && !isolate.isDisposed) prepared.closeNodeModules.applySync(undefined, [nodeKey])
        }
        // Awaited, not queued: a run's synchronous first step would overtake a queued call. A bad
        // default export is reported by the first dispatch.
        const namespace = module.namespace
        refs.push(namespace)
        this.#idle()
        await this.#onPool(register.apply(undefined, [programNumber, namespace.derefInto()]))
      } finally {
        module.release()
        for (const node of nodeModules) node.release()
      }
      this.#compiled++
      if (further) this.#wantSpare = true
      /** The last run started synchronously in this context whose result is not taken yet. */
      let untaken: BridgeRun | null = null
      return {
        id: programId,
        release: prepared.release,
        dispatch: (run, kind, args, outputLimit, step) => {
          this.#runs.set(run.id, run)
          run.onEnd(() => {
            this.#runs.delete(run.id)
            if (this.#runs.size > 0 || this.#starting > 0) return
            if (this.#retired) this.#dispose()
            else if (this.#wantSpare) this.#prepareSpare()
          })
          if (step === undefined) {
            const dispatchArgs = [run.id, programNumber, kind, args.json, args.body, outputLimit, false]
            return this.#onPool(dispatch.apply(undefined, dispatchArgs, transferOptions(dispatchArgs))).then(
              () => null,
              (error: unknown) => this.#rejectionOf(error),
            )
          }
          // The run before, started synchronously in this context and not taken yet, comes back with this call.
          const previous = untaken
          untaken = null
          const { error: rejection, timedOut, value } = stepWithin(dispatch, [run.id, programNumber, kind, args.json, args.body, outputLimit, true, previous?.id ?? 0], step)
          if (previous !== null) {
            // A call that failed returned nothing: the platform keeps the text it handed for a take.
            if (rejection === null) this.#taken(take, previous, value)
            else if (!this.#isolate.isDisposed) this.#take(take, previous)
          }
          if (this.#isolate.isDisposed) return Promise.resolve(null) // its memory limit: the watchdog ends the run
          if (timedOut) throw new StepTimeout(step.code)
          // Taken with the next run's dispatch into this context when one follows in this turn (a
          // batch's runs are dispatched back to back: isolate-host.ts run), else by a call of its
          // own once this turn's microtasks are done (behind an asynchronous step, if one entered
          // the isolate meanwhile: #take).
          untaken = run
          queueMicrotask(() => {
            if (untaken !== run) return
            untaken = null
            this.#take(take, run)
          })
          return Promise.resolve(rejection === null ? null : this.#rejectionOf(rejection))
        },
        unhandledRejection: () => {
          // Every entry into the isolate is one of ours, and each step reports the rejections it
          // left (dispatch, #deliver): quiet, every step has returned and said so. Otherwise an
          // entry queued behind the steps still out is the barrier that waits for their word.
          if (this.quiet) return Promise.resolve(null)
          return this.#absorber.run(context).then(() => null, (error: unknown) => this.#rejectionOf(error))
        },
      }
    } catch (error) {
      prepared?.release()
      throw this.#programError(error, source)
    }
  }

  /**
   * Takes a run's result out of its context: synchronously while the isolate is quiet (as it is
   * right after the run's synchronous first step, unless an asynchronous step entered since),
   * else behind the steps out, on isolated-vm's pool. A run not finished yet completes later.
   */
  #take(take: ivm.Reference, run: BridgeRun): void {
    this.#answerSteps?.tookResult()
    this.#callTake(take, [run.id, false], undefined, (value) => this.#taken(take, run, value))
  }

  /** Completes a run with what `take` (or the next run's dispatch) gave: its text, `true` for an object to copy out, or nothing yet. */
  #taken(take: ivm.Reference, run: BridgeRun, value: unknown): void {
    if (value === undefined) return
    if (value !== true) {
      run.complete(resultFromIsolate(value))
      return
    }
    // An object (a bytes body) comes only as a copy, asked for now.
    this.#callTake(take, [run.id, true], COPY_RESULT, (copied) => run.complete(resultFromIsolate(copied)))
  }

  /**
   * Calls the platform's `take`: synchronously while the isolate is quiet, else behind the steps
   * out, on isolated-vm's pool. An isolate disposed meanwhile gives nothing: the watchdog ends the run.
   */
  #callTake(take: ivm.Reference, args: [number, boolean], options: typeof COPY_RESULT | undefined, use: (value: unknown) => void): void {
    if (!this.quiet) {
      this.#onPool(take.apply(undefined, args, options)).then(use, () => undefined)
      return
    }
    let value: unknown
    try {
      value = take.applySync(undefined, args, options)
    } catch {
      return
    }
    use(value)
  }

  /**
   * Hands a host call's answer into the isolate, where the script's code resumes. On the worker
   * thread, synchronously, when no code of the isolate may be executing (quiet) and the host allows
   * it for the run (a program whose runs have been short, bounded by what is left of its CPU or
   * wall time: the watchdog's timer cannot fire meanwhile); else as an asynchronous step on
   * isolated-vm's pool, counted until it returns. A rejection nobody handled in the step is the
   * run's, logged with its result.
   */
  #deliver(answer: ivm.Reference | null, run: BridgeRun | undefined, callId: number, envelope: Envelope): void {
    if (answer === null || this.#isolate.isDisposed) return
    const steps = this.#answerSteps
    const step = steps !== undefined && run !== undefined && !run.ended && this.quiet ? steps.bound(run) : undefined
    const args = [callId, envelope]
    if (steps === undefined || run === undefined || step === undefined) {
      steps?.pooled()
      this.#onPool(answer.apply(undefined, args, transferOptions(args))).catch((error: unknown) => this.#stepRejected(run, error))
      return
    }
    steps.hold(() => {
      const { error, timedOut } = stepWithin(answer, args, step)
      if (error === null || this.#isolate.isDisposed) return // disposed: its memory limit, the watchdog ends the run
      if (timedOut) {
        steps.timedOut(run, step.code)
        this.kill(step.code, run)
        return
      }
      this.#stepRejected(run, error)
    })
  }

  /** A later step of `run` ended with an unhandled rejection: logged with the run's result (isolate-host.ts reads them once the run's last step is done). */
  #stepRejected(run: BridgeRun | undefined, error: unknown): void {
    // Its context let go meanwhile (the program was evicted): isolated-vm's word, not the tenant's.
    if (error instanceof Error && error.message === 'Reference has been released') return
    const rejection = this.#rejectionOf(error)
    if (rejection === null || run === undefined) return
    ;(run.rejections ??= []).push(rejection)
  }

  /** What a failed call into the isolate says of an unhandled rejection: the reason, or null when the isolate went away. */
  #rejectionOf(error: unknown): unknown {
    if (this.#isolate.isDisposed) return null
    if (error instanceof Error && /^Isolate was disposed/.test(error.message)) return null
    return error
  }

  #programError(error: unknown, source: string): RunnerError {
    if (error instanceof RunnerError) return error
    if (this.#isolate.isDisposed) return new RunnerError(this.#killReason ?? 'SCRIPT_MEMORY_LIMIT')
    if (error instanceof Error && /^Isolate was disposed/.test(error.message)) {
      return new RunnerError(/memory limit/.test(error.message) ? 'SCRIPT_MEMORY_LIMIT' : (this.#killReason ?? 'SCRIPT_TIMEOUT'))
    }
    if (error instanceof Error && error.name === 'SyntaxError' && /\[script\.js:\d+:\d+\]$/.test(error.message)) return syntaxError(error, source)
    if (error instanceof Error) {
      const stack = tenantStack(error.stack ?? '')
      const location = stackLocation(stack)
      return new RunnerError('SCRIPT_ERROR', error.message, { name: error.name, stack, ...location })
    }
    return new RunnerError('SCRIPT_ERROR', String(error))
  }
}

/**
 * Calls `reference` synchronously, its arguments copied, within `step`'s bound: what the call
 * threw (null: nothing; an unhandled rejection of the step, or the bound's own error), and whether
 * the bound stopped it.
 */
function stepWithin(reference: ivm.Reference, args: unknown[], step: SyncStep): { error: unknown; timedOut: boolean; value: unknown } {
  const wallBefore = performance.now()
  try {
    const timeout = Math.max(1, Math.ceil(step.timeoutMs))
    const value: unknown = reference.applySync(undefined, args, needsCopy(args) ? { arguments: COPY, timeout } : { timeout })
    return { error: null, timedOut: false, value }
  } catch (error) {
    return { error, timedOut: error instanceof Error && TIMED_OUT.test(error.message) && performance.now() - wallBefore >= step.timeoutMs * 0.9, value: undefined }
  }
}

const COPY = { copy: true } as const
const COPY_ARGUMENTS = { arguments: COPY } as const
const COPY_RESULT = { result: COPY } as const

/**
 * Whether a call's arguments include an object (a body's bytes, a host call's answer), which
 * isolated-vm moves only as a copy. Primitives cross as they are; asking for copies anyway costs
 * more than the call: 5.8 against 4.2 us a synchronous dispatch with its timeout (1.6 us of a
 * hello run's worker thread), measured in a loop.
 */
function needsCopy(args: readonly unknown[]): boolean {
  for (const arg of args) if (typeof arg === 'object' && arg !== null) return true
  return false
}

function transferOptions(args: readonly unknown[]): typeof COPY_ARGUMENTS | undefined {
  return needsCopy(args) ? COPY_ARGUMENTS : undefined
}

/** Each compiled program by the promise that gave it (TenantIsolate.programNow). */
const readyPrograms = new WeakMap<Promise<Program>, Program>()

/** A run ended with its isolate because another run of the tenant went over limit `code`. */
function siblingLimit(code: RunnerErrorCode): RunnerError {
  return new RunnerError('SCRIPT_SIBLING_LIMIT', `another run of the tenant went over its limit (${code}); this run ended with their isolate`)
}

/** V8 heap in use plus ArrayBuffer memory: what memoryLimit bounds. */
function limitedBytes(stats: ivm.HeapStatistics): number {
  return stats.used_heap_size + stats.externally_allocated_size
}

/** A platform script compiled in `isolate`, with the code cache this process made for it when there is one. */
function compilePlatformScript(isolate: ivm.Isolate, { source, cachedData }: PlatformScript, filename: string): ivm.Script {
  return isolate.compileScriptSync(source, { filename, ...(cachedData ? { cachedData } : {}) })
}

function compileModule(isolate: ivm.Isolate, source: string): ivm.Module {
  try {
    return isolate.compileModuleSync(source, { filename: SCRIPT_FILENAME })
  } catch (error) {
    throw syntaxError(error, source)
  }
}

export function syntaxError(error: unknown, source: string): RunnerError {
  const raw = error instanceof Error ? error.message : String(error)
  const { message, location } = splitMessageLocation(raw)
  const data: Partial<ErrorData> = { name: 'SyntaxError' }
  if (location) Object.assign(data, location, { pointer: pointer(source, location) })
  const where = location ? ` (line ${location.line}, column ${location.column})` : ''
  return new RunnerError('SCRIPT_SYNTAX_ERROR', `${message}${where}`, data)
}
