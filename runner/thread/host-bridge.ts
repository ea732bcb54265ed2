import { performance } from 'node:perf_hooks'
import ivm from 'isolated-vm'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { domainToASCII } from './idna.js'
import { registerSubtleCrypto } from './subtle-crypto.js'
import type { LogEntry, RunTrace } from '../protocol.js'
import type { LimitEnforcer } from './limit-enforcer.js'
import { CpuLedger, RunCpu, type IsolateCpuAccount } from './cpu-ledger.js'
import { RunTable } from '../run-table.js'

/**
 * A host API: called with the tenant (bound by the host, never named by the script), the copied
 * arguments, and the call's context; answers plain data (structured-clonable) or throws.
 */
export type HostFunction = (tenantId: string, args: unknown[], call: HostCall) => Promise<unknown>

/**
 * An answer the host has at hand for a call (a kept answer, near-copies.ts), given while the
 * script's step is still running: the call settles with no second entry into the isolate.
 * Undefined: the call goes the usual way.
 */
export type HostPeek = (tenantId: string, args: unknown[], run: { readonly near: number }) => { value: unknown } | undefined

export interface HostCall {
  /** Aborted when the run ends: a host API must stop waiting then (timers do). Made when first read. */
  readonly signal: AbortSignal
  /**
   * Runs `fn` once when the run ends, and answers how to take it back: what a relayed call needs
   * to send its cancel, at the cost of an array entry where an AbortSignal listener cost an
   * AbortController per run and an event listener added and removed per call (5% of a worker
   * thread under ctx.cache load).
   */
  readonly onCancel: (fn: () => void) => () => void
  /** The execution the run records, when its caller named it (RunTask.trace). */
  readonly executionId?: string | undefined
  /** The causal depth of the event that triggered the run, if one did. */
  readonly eventDepth?: number | null | undefined
  /** The script making the call, when the run has a trace. */
  readonly scriptId?: string | undefined
  /** Charges host CPU spent for the run (crypto.subtle) to its `cpuMs`, as if the isolate spent it. */
  readonly chargeCpu?: ((ns: bigint) => void) | undefined
  /**
   * The tenant's version when the gateway sent the run (WireTask.near): a kept answer serves the
   * run only once the thread has heard of changes that far (near-copies.ts). -1: keep nothing.
   */
  readonly near?: number | undefined
}

export interface HostApiOptions {
  /** Offered to scripts as `ctx.{namespace}.{method}` for a name 'namespace.method'. Default false. */
  expose?: boolean
  /**
   * Counted against the run's `apiCalls` limit. Default true; false for platform internals that
   * are charged otherwise (crypto.subtle: by the CPU it takes).
   */
  counted?: boolean
  /** Answers a call at once when it can (HostPeek); the platform then asks synchronously. */
  peek?: HostPeek | undefined
}

/** Plain error data crossing into the isolate, rebuilt there as an Error. */
interface ErrorEnvelope {
  ok: false
  error: { name: string; message: string; code?: string }
}
/** The run ended on the host's side while the call was out: the platform never resumes its code. */
interface EndedEnvelope {
  ok: false
  ended: true
}
export type Envelope = { ok: true; value: unknown } | ErrorEnvelope | EndedEnvelope

/** What the platform hands back when a run finishes (see runner/platform/index.js). */
export interface DispatchResult {
  response?: unknown
  output?: unknown
  error?: { name: string; message: string; stack: string }
  failure?: { code: string; message: string }
  logs: LogEntry[]
  /** UTF-8 bytes of every line the run logged, including lines dropped over the output limit. */
  logBytes: number
  outputExceeded: boolean
}

/**
 * What the platform handed back for a run (runner/platform/index.js resultForHost): JSON text, or
 * the object itself when the response body is binary. Text that does not parse to an object (a
 * script that gave Object.prototype a toJSON) is the script's invalid response, not the host's
 * failure.
 */
export function resultFromIsolate(value: unknown): DispatchResult {
  let result = value
  if (typeof value === 'string') {
    try {
      result = JSON.parse(value) as unknown
    } catch {
      result = null // not JSON: answered below as an invalid response
    }
  }
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) return result as DispatchResult
  return { failure: { code: 'SCRIPT_INVALID_RESPONSE', message: 'the run\'s result did not come out of the isolate as an object' }, logs: [], logBytes: 0, outputExceeded: false }
}

const NAME = /^[a-z][a-zA-Z0-9]*(\.[a-z][a-zA-Z0-9]*)?$/
const MAX_DELAY_MS = 2 ** 31 - 1

/**
 * The host APIs a worker offers to isolates, by name. Later host APIs (db, fetch, cache, events)
 * plug in here as `name -> async (tenantId, args) => plain data`.
 *
 * @example
 * const registry = new HostRegistry()
 * registry.register('cache.get', async (tenantId, [key]) => cache.get(`${tenantId}:${String(key)}`), { expose: true })
 */
export class HostRegistry {
  readonly #apis = new Map<string, HostFunction>()
  readonly #exposed: string[] = []
  readonly #uncounted = new Set<string>()
  readonly #peeks = new Map<string, HostPeek>()

  /** The registry every worker starts from: timers (internal; setTimeout is built on it). */
  static withDefaults(): HostRegistry {
    return registerSubtleCrypto(new HostRegistry().register('timers.sleep', timersSleep))
  }

  register(name: string, fn: HostFunction, options: HostApiOptions = {}): this {
    if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError(`host API name ${JSON.stringify(name)} must look like "namespace.method"`)
    if (typeof fn !== 'function') throw new TypeError(`host API ${name} must be a function`)
    if (this.#apis.has(name)) throw new RangeError(`host API ${name} is registered already`)
    this.#apis.set(name, fn)
    if (options.expose === true) this.#exposed.push(name)
    if (options.counted === false) this.#uncounted.add(name)
    if (options.peek !== undefined) {
      if (typeof options.peek !== 'function') throw new TypeError(`options.peek of host API ${name} must be a function`)
      this.#peeks.set(name, options.peek)
    }
    return this
  }

  /** Whether calls of `name` count against the run's API-call limit. */
  counted(name: string): boolean {
    return !this.#uncounted.has(name)
  }

  get(name: string): HostFunction | undefined {
    return this.#apis.get(name)
  }

  peek(name: string): HostPeek | undefined {
    return this.#peeks.get(name)
  }

  /** Names whose calls the platform makes synchronously, to be answered at once when the host can (HostPeek). */
  get peeked(): readonly string[] {
    return [...this.#peeks.keys()]
  }

  /** Names offered to scripts on ctx. */
  get exposed(): readonly string[] {
    return this.#exposed
  }
}

async function timersSleep(_tenantId: string, args: unknown[], call: HostCall): Promise<boolean> {
  const ms = Number(args[0])
  await sleep(ms > 0 ? Math.min(Math.trunc(ms), MAX_DELAY_MS) : 0, undefined, { signal: call.signal })
  return true
}

/**
 * Why a run's host calls are aborted: one reason for every run. `abort()` without one builds a
 * DOMException, stack trace and all, for each run that made a host call (2% of a worker thread
 * under ctx.cache load).
 */
const RUN_ENDED = new DOMException('The run ended', 'AbortError')
const NOTHING = (): void => undefined

/** The host's record of one run: how it finished; its API calls are counted by its LimitEnforcer. */
export class BridgeRun {
  readonly id: number
  readonly tenantId: string
  readonly limits: LimitEnforcer
  readonly trace: RunTrace | undefined
  /** HostCall.near of the run's calls. */
  readonly near: number
  /** Host calls of every kind, counted or not: a run that made none left no later step behind. */
  hostCalls = 0
  /** When the host began the run (performance.now()): its wall-clock budget counts from here. */
  readonly started = performance.now()
  /**
   * The key of the run's program when its later steps (host calls' answers) may enter the isolate
   * synchronously (isolate-host.ts, step-costs.ts); null: they go to isolated-vm's pool.
   */
  syncKey: string | null = null
  /** Unhandled rejections later steps of the run reported (tenant-isolate.ts deliver), logged with its result. */
  rejections: unknown[] | null = null
  /** The CPU charged to this run alone (cpu-ledger.ts); frozen when the run ends. */
  readonly cpu: RunCpu
  /** Charges host CPU spent for the run (crypto.subtle) to its own figure (see HostCall.chargeCpu). */
  readonly chargeCpu = (ns: bigint): void => this.cpu.chargeHost(Number(ns))
  readonly result: Promise<DispatchResult>
  /** Made on the first host call that needs it: most runs make none. */
  #controller: AbortController | null = null
  /** What to run when the run ends: its relayed calls' cancels (onCancel). */
  #cancels: Array<() => void> | null = null
  #resolve!: (result: DispatchResult) => void
  #reject!: (error: unknown) => void
  #ended = false
  #onEnd: Array<() => void> = []

  /** Forgets the run at the bridge and frees its ledger slot: its code no longer runs. */
  readonly #release: () => void
  readonly #ledger: CpuLedger | undefined
  #endedEarly = false
  #ownAtEnd = 0

  constructor(id: number, tenantId: string, limits: LimitEnforcer, trace?: RunTrace, cpu: RunCpu = new RunCpu(null, 0), release: () => void = () => undefined, ledger?: CpuLedger, near = -1) {
    this.#ledger = ledger
    this.id = id
    this.tenantId = tenantId
    this.limits = limits
    this.trace = trace
    this.near = near
    this.cpu = cpu
    this.#release = release
    this.result = new Promise<DispatchResult>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // The runner awaits `result` once the run started; a run whose program never compiled is
    // aborted with nobody reading it, and an unhandled rejection would end the worker thread.
    this.result.catch(() => undefined)
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Aborted when the run ends. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController()
    if (this.#ended) this.#controller.abort(RUN_ENDED)
    return this.#controller.signal
  }

  /** HostCall.onCancel for this run's calls. */
  readonly onCancel = (fn: () => void): (() => void) => {
    // An ended run's calls are refused before they go out (#call): nothing to cancel.
    if (this.#ended) return NOTHING
    const cancels = (this.#cancels ??= [])
    cancels.push(fn)
    return () => {
      const at = cancels.indexOf(fn)
      if (at >= 0) cancels.splice(at, 1)
    }
  }

  /** Called once when the run ends, however it ends. */
  onEnd(callback: () => void): void {
    if (this.#ended) callback()
    else this.#onEnd.push(callback)
  }

  complete(result: DispatchResult): void {
    if (this.#ended) return
    this.#end()
    this.#resolve(result)
    this.#release()
  }

  /** Ends the run without a result from the isolate (it was disposed, or stopped by the watchdog). */
  abort(error: unknown): void {
    if (this.#ended) return
    this.#end()
    this.#reject(error)
    if (!this.#endedEarly) this.#release()
  }

  /** Ended by the host while its isolate lives on (endEarly): its host calls answer that it ended. */
  get endedEarly(): boolean {
    return this.#endedEarly
  }

  /**
   * Ends the run with `error` while its isolate keeps serving the tenant's other runs: the run's
   * code is not executing (it waits for a host call or a timer), and the platform never resumes it
   * (each of its host calls answers that it ended). Its ledger slot stays its own until `settle()`,
   * so CPU its code might still spend (an answer already on its way into the isolate) is charged
   * to it and nobody else; the watchdog settles it once that is over.
   */
  endEarly(error: unknown): void {
    if (this.#ended) return
    this.#endedEarly = true
    this.#ownAtEnd = this.cpu.ownNs()
    this.abort(error)
  }

  /**
   * Tells the platform the run is over before the host says so (watchdog.ts): no answer to its
   * host calls resumes its code from now on. False when the run has no ledger slot to mark.
   */
  markEnding(): boolean {
    if (this.cpu.slot === 0) return false
    this.#ledger?.end(this.cpu.slot)
    return this.#ledger !== undefined
  }

  /** Whether code the run is charged for may be executing (RunCpu.mayBeExecuting). */
  mayBeExecuting(): boolean {
    return this.cpu.mayBeExecuting()
  }

  /** CPU charged to the run so far (ns), frozen once it ended. */
  cpuNs(): number {
    return this.cpu.ns()
  }

  /**
   * CPU its own code spent since `endEarly` (ns): more than a straggling answer's worth means it
   * runs on. Its slot alone: CPU no run is charged for (another program compiling) is not its doing.
   */
  cpuSinceEnd(): number {
    return Math.max(0, this.cpu.ownNs() - this.#ownAtEnd)
  }

  /** Releases what an early-ended run kept (see endEarly). */
  settle(): void {
    if (this.#endedEarly) this.#release()
  }

  #end(): void {
    this.#ended = true
    this.cpu.freeze()
    this.#controller?.abort(RUN_ENDED)
    const cancels = this.#cancels
    this.#cancels = null
    if (cancels !== null) for (const cancel of cancels) cancel()
    for (const callback of this.#onEnd) callback()
    this.#onEnd = []
  }
}

/** The host side of one context: what `boot` receives. Release the References with the context. */
export interface ContextBridge {
  readonly call: ivm.Reference
  readonly complete: ivm.Reference
  /** `toASCII(domain)`, called synchronously: URL host parsing for hosts that need IDNA (idna.ts). */
  readonly toASCII: ivm.Reference
  readonly seed: ivm.Copy<Uint8Array>
  readonly exposed: string
  /** HostRegistry.peeked, comma-separated. */
  readonly peeked: string
  /** The thread's CPU ledger, shared (cpu-ledger.ts). */
  readonly ledger: ivm.Copy<SharedArrayBuffer>
  readonly release: () => void
}

/**
 * Hands a host call's answer (an envelope) back into the isolate, as the context decides
 * (tenant-isolate.ts deliver): on the worker thread when no code of the isolate may be executing,
 * else on isolated-vm's pool. `run` is the run that made the call, when the host still has it.
 */
export type AnswerDelivery = (run: BridgeRun | undefined, callId: number, envelope: Envelope) => void

/**
 * The one way host functions enter an isolate. Each context gets three References hidden in the
 * platform's closure (runner/platform/runtime.js): `call(runId, callId, name, args)` for host APIs,
 * called with `applyIgnored` and copied arguments, its answer an envelope handed back through the
 * context's `AnswerDelivery`; `complete(runId, result)` for a finished run, and `toASCII(domain)`,
 * the platform's one synchronous host function (IDNA for URL hosts, see idna.ts; not a host API:
 * no run, no API-call count). Only copied data crosses; the tenant is bound here, per context.
 *
 * The host, not isolated-vm, decides when an answer enters the isolate: a promise result
 * (`{result: {promise: true}}`) was settled by a task isolated-vm queued on its own pool, so the
 * script's code resumed on another thread whenever that task ran; the worker thread could not tell
 * when code of the isolate might be executing, and sent every later step of the tenant to the pool
 * too (a thread hand-off and a lock each, the most of a `ctx.cache` run's cost).
 *
 * Every call counts against the run's API-call limit. A host function's failure is answered as
 * data (`{ok: false, error}`) and rebuilt as an Error inside the isolate, with no host frames or
 * host objects in it. Never `ivm.Callback` with `{async: true}`, never `{reference: true}` on a
 * host object.
 */
export class HostBridge {
  readonly #registry: HostRegistry
  /** Runs in flight by id: one entry per run, so not a Map (see ../run-table.ts). */
  readonly #runs = new RunTable<number, BridgeRun>()
  /** The thread's CPU books (cpu-ledger.ts), shared with every isolate's platform. */
  readonly ledger = new CpuLedger()
  #nextRun = 1

  constructor(registry: HostRegistry = HostRegistry.withDefaults()) {
    this.#registry = registry
  }

  /**
   * Starts the host's record of a run. With the `account` of the isolate it runs in, the run gets
   * a ledger slot, named by its id (`id % slots`), and its CPU is what its own code spent.
   * `near`: HostCall.near of its calls.
   */
  begin(tenantId: string, limits: LimitEnforcer, trace?: RunTrace, account?: IsolateCpuAccount, near = -1): BridgeRun {
    const slot = account === undefined ? 0 : this.ledger.take()
    const release = (): void => {
      this.#runs.delete(run.id)
      this.ledger.release(slot)
    }
    const run = new BridgeRun(this.#nextRun++ * this.ledger.slots + slot, tenantId, limits, trace, new RunCpu(account ?? null, slot), release, this.ledger, near)
    this.#runs.set(run.id, run)
    return run
  }

  /**
   * The References for one new context of an isolate whose tenant `tenant()` names, read at each
   * call: null while the isolate was made ahead and no tenant took it (tenant-isolate.ts ahead),
   * when no run is the context's and no call is answered, as for a call from no run.
   */
  forContext(tenant: () => string | null, deliver: AnswerDelivery): ContextBridge {
    const call = new ivm.Reference((runId: unknown, callId: unknown, name: unknown, args: unknown, sync: unknown): Envelope | undefined => {
      if (typeof callId !== 'number') return undefined
      const tenantId = tenant()
      // No tenant, no run of it: a call from no run is not answered (a spare's warm-up makes none).
      if (tenantId === null) return undefined
      // Asked synchronously (HostRegistry.peeked): an answer at hand goes back as the result.
      if (sync === true) {
        const now = this.#peek(tenantId, runId, name, args)
        if (now !== undefined) return now
      }
      const answer = (envelope: Envelope): void => deliver(this.#runOf(tenantId, runId), callId, envelope)
      // Every outcome of #call is an envelope; a throw would be the bridge's own bug, answered all
      // the same. A failure to deliver is said, never left to end the thread as an unhandled rejection.
      this.#call(tenantId, runId, name, args)
        .then(answer, (error: unknown) => answer(failure('Error', error instanceof Error ? error.message : String(error))))
        .catch((error: unknown) => process.emitWarning(new Error('a host call\'s answer could not be handed to its isolate', { cause: error })))
      return undefined
    })
    const complete = new ivm.Reference((runId: number, result: unknown) => {
      const tenantId = tenant()
      if (tenantId !== null) this.#runOf(tenantId, runId)?.complete(resultFromIsolate(result))
    })
    const toASCII = new ivm.Reference(toASCIIEnvelope)
    return {
      call,
      complete,
      toASCII,
      seed: new ivm.ExternalCopy(new Uint8Array(randomBytes(32))).copyInto({ release: true }),
      exposed: this.#registry.exposed.join(','),
      peeked: this.#registry.peeked.join(','),
      ledger: new ivm.ExternalCopy(this.ledger.buffer).copyInto({ release: true }),
      release: () => {
        call.release()
        complete.release()
        toASCII.release()
      },
    }
  }

  /** Run `runId` when it is `tenantId`'s: an isolate names only its own tenant's runs. */
  #runOf(tenantId: string, runId: unknown): BridgeRun | undefined {
    const run = typeof runId === 'number' ? this.#runs.get(runId) : undefined
    return run !== undefined && run.tenantId === tenantId ? run : undefined
  }

  /**
   * A call answered while its step runs (HostPeek): counted as any call, with no later step.
   * Undefined when the host has no answer at hand, or the call is not the run's to make or is one
   * over its limit (#call answers those).
   */
  #peek(tenantId: string, runId: unknown, name: unknown, args: unknown): Envelope | undefined {
    const run = this.#runOf(tenantId, runId)
    if (run === undefined || run.ended || typeof name !== 'string' || !Array.isArray(args)) return undefined
    let kept: { value: unknown } | undefined
    try {
      kept = this.#registry.peek(name)?.(tenantId, args, run)
    } catch (error) {
      // The usual way answers the call; the peek's own failure is the host's to say.
      process.emitWarning(new Error(`host API ${name} failed to answer at once`, { cause: error }))
      return undefined
    }
    if (kept === undefined) return undefined
    if (this.#registry.counted(name)) {
      // The call over the limit goes the usual way, which refuses it: a refusal settled at once
      // and never awaited would be an unhandled rejection when the step ends.
      if (!run.limits.apiCallLeft) return undefined
      run.limits.countApiCall()
    }
    return { ok: true, value: kept.value }
  }

  async #call(tenantId: string, runId: unknown, name: unknown, args: unknown): Promise<Envelope> {
    const run = this.#runOf(tenantId, runId)
    if (run === undefined || run.ended) {
      // A run the host ended before its code did (watchdog.ts) must not resume.
      if (run?.endedEarly === true) return ENDED
      return failure('Error', 'host APIs can only be called while a run is in progress')
    }
    const fn = typeof name === 'string' ? this.#registry.get(name) : undefined
    if (fn === undefined) return failure('TypeError', `${String(name)} is not a host API`)
    run.hostCalls++
    if (this.#registry.counted(name as string) && !run.limits.countApiCall()) {
      return failure('Error', `the run went over its limit of ${run.limits.limits.apiCalls} host API calls`, 'SCRIPT_API_CALL_LIMIT')
    }
    try {
      const call: HostCall = {
        get signal() {
          return run.signal
        },
        onCancel: run.onCancel,
        executionId: run.trace?.executionId,
        eventDepth: run.trace?.eventDepth,
        scriptId: run.trace?.scriptId,
        chargeCpu: run.chargeCpu,
        near: run.near,
      }
      const value = await fn(tenantId, Array.isArray(args) ? args : [], call)
      return run.ended ? ENDED : { ok: true, value }
    } catch (error) {
      if (run.ended) return ENDED
      if (error instanceof Error) {
        const code = (error as { code?: unknown }).code
        return failure(error.name, error.message, typeof code === 'string' ? code : undefined)
      }
      return failure('Error', String(error))
    }
  }
}

/**
 * The synchronous side of the bridge: answers an envelope like `#call`, so whatever goes wrong
 * reaches the isolate as data and is thrown there as an Error of the platform's making, with no
 * host frames or host objects in it.
 */
function toASCIIEnvelope(domain: unknown): Envelope {
  if (typeof domain !== 'string') return failure('TypeError', 'toASCII takes a string')
  try {
    return { ok: true, value: domainToASCII(domain) }
  } catch (error) {
    return failure(error instanceof Error ? error.name : 'Error', error instanceof Error ? error.message : String(error))
  }
}

const ENDED: EndedEnvelope = { ok: false, ended: true }

function failure(name: string, message: string, code?: string): ErrorEnvelope {
  return { ok: false, error: code === undefined ? { name, message } : { name, message, code } }
}
