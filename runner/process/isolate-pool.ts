import os from 'node:os'
import type { RunnerError } from '../errors.js'
import { HostRelay, type HostCallHandler, type RemoteHostApi } from '../host-relay.js'
import { decodeResult, encodeTask, sumEvicted, type CheckResult, type Evicted, type Executor, type NamedTask, type RunResult, type TenantEvictor, type WireResult, type WireTask } from '../protocol.js'
import { ProgramMissing, ProgramSources, TaskHeads } from './program-sources.js'
import { readPlatformSource, siblingModule } from './platform-source.js'
import { Rendezvous, THREAD_SALT } from '../rendezvous.js'
import type { WorkerStats } from '../thread/worker.js'
import type { ThreadHostSettings } from '../thread/thread-host.js'
import { WorkerShard } from './worker-shard.js'
import { CpuShares } from './cpu-shares.js'
import { setTimerSlack } from './timer-slack.js'

export interface IsolatePoolOptions {
  /** Worker threads. */
  threads?: number
  /** Runs in flight per thread; above 1 so cross-thread wake-ups are not the bottleneck. */
  concurrentTasksPerWorker?: number
  /** In-flight runs on a tenant's home thread before it may spill to its second thread. */
  spillThreshold?: number
  /**
   * Share of one core (above 0, at most 1) a tenant's runs may use while other tenants use its
   * thread too: past it, measured over the last ~200 ms of the CPU its runs were charged (on all
   * of this pool's threads), its next runs wait until it is back under
   * (runner/process/cpu-shares.ts). A tenant alone on its thread, or beside tenants over their
   * share too, is not held back.
   */
  tenantCpuShare?: number
  /** Isolates kept per thread (LRU); each costs ~1 MB RSS and ~9 memory mappings. */
  maxIsolatesPerThread?: number
  /** An isolate unused this long is disposed. */
  isolateIdleMs?: number
  /** Compiled programs kept per tenant. */
  maxProgramsPerTenant?: number
  /**
   * The heap limit (MB) of the isolates each thread makes ahead while idle, for cold starts to take
   * (runner/thread/isolate-host.ts): the tenants' usual quota. Without it, the last cold start's.
   */
  blankMemoryMb?: number
  /**
   * URLs of modules whose default export registers host APIs in each worker,
   * `(registry: HostRegistry) => void` (see runner/thread/host-bridge.ts). Timers are always there.
   */
  hostApiModules?: string[]
  /**
   * Host APIs answered outside the worker threads, by `hostCalls` (in a runner process: by the
   * gateway). Plain data, so it travels in a runner process's settings.
   */
  remoteHostApis?: RemoteHostApi[]
  /** Answers the calls to `remoteHostApis`; without it they are not offered. Not serializable. */
  hostCalls?: HostCallHandler
  /**
   * The gateway's host-call socket for this runner process (runner/supervisor/host-call-listener.ts):
   * each worker thread sends its calls to `remoteHostApis` there itself, and `hostCalls` is not used.
   */
  hostSocket?: string
  /**
   * A worker thread could not start (its module or a host API module did not load, no thread
   * could be made): that thread's tenants are answered RUNNER_UNAVAILABLE from then on. Called
   * once per thread that fails so. Not serializable.
   */
  onThreadStartFailure?: (error: RunnerError) => void
  /**
   * Timer slack (us) of the threads the pool starts, set on the calling thread first, which they
   * inherit (timer-slack.ts: isolated-vm's timer threads wake once a slack for the steps' bounds
   * that ended). 0 leaves it as it is. A runner process asks for it; in another process it would
   * change the calling thread's timers too.
   */
  timerSlackUs?: number
}

/** One worker thread's counters: its own (worker.ts), and those its shard keeps in the runner's main thread. */
export interface ThreadStats extends WorkerStats {
  /** Runs that arrived while their tenant was held back for its CPU share (cpu-gate.ts). */
  cpuHeldRuns: number
}

/** A runner process's counters: its threads' summed, and the threads that died under it. */
export interface PoolStats extends ThreadStats {
  /** Worker threads the pool runs (added up over runners: all of theirs). */
  threads: number
  /** Worker threads that died (and were replaced) since the pool started. */
  threadCrashes: number
  /** Runs taken from a held thread before it started them, and run on another (worker-shard.ts `withdraw`). */
  movedRuns: number
}

/** Adds up the counters of several threads or runners (a counter one of them lacks counts 0); null ones are skipped. */
export function sumStats(all: Iterable<Partial<PoolStats> | null>): PoolStats {
  const sum: PoolStats = { isolates: 0, blankIsolates: 0, isolateHits: 0, isolateMisses: 0, programHits: 0, programMisses: 0, threadSteps: 0, poolSteps: 0, blankStarts: 0, threadAnswers: 0, poolAnswers: 0, keptAnswers: 0, runBatches: 0, resultTakes: 0, cpuHeldRuns: 0, threads: 0, threadCrashes: 0, movedRuns: 0 }
  for (const stats of all) {
    if (stats === null) continue
    for (const key of Object.keys(sum) as Array<keyof PoolStats>) sum[key] += stats[key] ?? 0
  }
  return sum
}

/** A tenant spills only while it holds at least 1/SPILL_SHARE of the spill threshold's runs on its home thread. */
const SPILL_SHARE = 4

const DEFAULTS = {
  threads: Math.max(1, os.availableParallelism()),
  concurrentTasksPerWorker: 16,
  spillThreshold: 32,
  tenantCpuShare: 0.5,
  maxIsolatesPerThread: 500,
  isolateIdleMs: 5 * 60_000,
  maxProgramsPerTenant: 1000,
  hostApiModules: [],
  timerSlackUs: 0,
} satisfies Omit<Required<IsolatePoolOptions>, 'remoteHostApis' | 'hostCalls' | 'hostSocket' | 'onThreadStartFailure' | 'blankMemoryMb'>

/**
 * What each thread's isolate host starts from (thread-host.ts), checked: a worker thread's settings
 * but its claims and host relay, and what a runner process without worker threads starts its one
 * host from (inline-pool.ts). The gateway's host APIs go over `options.hostSocket` when it is set.
 */
export function threadHostSettings(options: IsolatePoolOptions): ThreadHostSettings {
  const apis = remoteHostApis(options.remoteHostApis)
  if (options.hostSocket !== undefined && (typeof options.hostSocket !== 'string' || options.hostSocket.length === 0)) throw new TypeError('options.hostSocket must be a socket path')
  return {
    platformSource: readPlatformSource(),
    maxIsolates: positiveInteger(options, 'maxIsolatesPerThread'),
    isolateIdleMs: positiveInteger(options, 'isolateIdleMs'),
    maxProgramsPerTenant: positiveInteger(options, 'maxProgramsPerTenant'),
    blankMemoryMb: options.blankMemoryMb === undefined ? undefined : checkedPositiveInteger('blankMemoryMb', options.blankMemoryMb),
    hostApiModules: hostApiModules(options.hostApiModules),
    hostSocket: options.hostSocket !== undefined && apis.length > 0 ? { path: options.hostSocket, apis } : undefined,
  }
}

function positiveInteger(options: IsolatePoolOptions, key: keyof typeof DEFAULTS): number {
  return checkedPositiveInteger(key, options[key] ?? DEFAULTS[key])
}

function checkedPositiveInteger(key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${key} must be an integer`)
  if (value < 1) throw new RangeError(`options.${key} must be a positive integer`)
  return value
}

function tenantCpuShare(value: unknown = DEFAULTS.tenantCpuShare): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError('options.tenantCpuShare must be a number')
  if (!(value > 0 && value <= 1)) throw new RangeError('options.tenantCpuShare must be above 0 and at most 1')
  return value
}

function remoteHostApis(value: unknown = []): RemoteHostApi[] {
  const valid = Array.isArray(value) && value.every((api) => typeof api?.name === 'string' && typeof api?.expose === 'boolean')
  if (!valid) throw new TypeError('options.remoteHostApis must be an array of { name, expose }')
  return value as RemoteHostApi[]
}

/** options.timerSlackUs, checked (a runner without worker threads sets it too: inline-pool.ts). */
export function timerSlackUs(value: unknown = DEFAULTS.timerSlackUs): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new TypeError('options.timerSlackUs must be a whole number of microseconds, 0 or more')
  return value
}

function hostApiModules(value: unknown = DEFAULTS.hostApiModules): string[] {
  if (!Array.isArray(value) || !value.every((url) => typeof url === 'string')) throw new TypeError('options.hostApiModules must be an array of module URLs')
  return value
}

/**
 * Worker threads holding tenant isolates, with tenant affinity: a tenant's runs go to its home
 * thread (rendezvous hashing), and to its second thread only while the home one is saturated.
 *
 * @example
 * const pool = new IsolatePool({ threads: 2 })
 * const result = await pool.run({ kind: 'fetch', program, input: request, env: {}, limits })
 * await pool.close()
 */
export class IsolatePool implements Executor, TenantEvictor {
  readonly #shards: WorkerShard[]
  readonly #spillThreshold: number
  /** Sources of the programs this pool was sent: runs may name their program without it. */
  readonly #sources = new ProgramSources()
  /** Head texts (WireTask.json) by number: a thread that lacks one gets it from here. */
  readonly #heads = new TaskHeads()
  readonly #relay: HostRelay | null
  /** Each tenant's threads in rendezvous order (salted: independent of its runner, see THREAD_SALT). */
  readonly #homes: Rendezvous
  #movedRuns = 0

  constructor(options: IsolatePoolOptions = {}) {
    const threads = positiveInteger(options, 'threads')
    this.#spillThreshold = positiveInteger(options, 'spillThreshold')
    const cpuShare = tenantCpuShare(options.tenantCpuShare)
    if (options.hostCalls !== undefined && typeof options.hostCalls !== 'function') throw new TypeError('options.hostCalls must be a function')
    if (options.onThreadStartFailure !== undefined && typeof options.onThreadStartFailure !== 'function') throw new TypeError('options.onThreadStartFailure must be a function')
    const settings = threadHostSettings(options)
    const apis = remoteHostApis(options.remoteHostApis)
    this.#relay = options.hostCalls !== undefined && apis.length > 0 && settings.hostSocket === undefined ? new HostRelay(options.hostCalls, apis) : null
    settings.hostRelay = this.#relay?.settings
    // Before the threads start: they inherit it.
    setTimerSlack(timerSlackUs(options.timerSlackUs))
    const workerUrl = siblingModule('../thread/worker', import.meta.url)
    const concurrentTasksPerWorker = positiveInteger(options, 'concurrentTasksPerWorker')
    const onStall = (shard: WorkerShard): void => this.#rehome(shard)
    // One rate per tenant across the threads: runs moved off a held thread, or spilled, bring it along.
    const cpu = new CpuShares(cpuShare)
    this.#shards = Array.from({ length: threads }, () => new WorkerShard({ workerUrl, settings, concurrentTasksPerWorker, cpu, sources: this.#sources, onStall, onStartFailure: options.onThreadStartFailure }))
    this.#homes = new Rendezvous(threads, THREAD_SALT)
  }

  get threads(): number {
    return this.#shards.length
  }

  /**
   * Runs a task on its tenant's thread. A task may name its program without its source when this
   * pool was sent the source before; if the pool no longer has it the run rejects with
   * ProgramMissing (program-sources.ts) and the caller sends it again with the source.
   */
  run(task: NamedTask): Promise<RunResult> {
    return this.runWire(encodeTask(task)).then(decodeResult)
  }

  /**
   * `run` for a task already encoded (protocol.ts WireTask), answering its result encoded: what a
   * runner process does with the gateway's runs, which its main thread passes on unread.
   */
  runWire(task: WireTask): Promise<WireResult> {
    this.#sources.keep(task)
    if (!this.#heads.fill(task)) return Promise.reject(new ProgramMissing(task.key))
    return this.#shardFor(task.tenantId).run(task)
  }

  /** Compiles a source in a scratch isolate: syntax errors with line and column, no imports. */
  check(source: string): Promise<CheckResult> {
    const shard = this.#shards.reduce((a, b) => (b.inFlight < a.inFlight ? b : a))
    return shard.call<CheckResult>({ type: 'check', source })
  }

  async stats(): Promise<PoolStats> {
    const sum = sumStats(await this.threadStats())
    sum.threads = this.#shards.length
    for (const shard of this.#shards) sum.threadCrashes += shard.crashes
    sum.movedRuns += this.#movedRuns
    return sum
  }

  /** Each worker thread's own counters, in the threads' order (stats adds them up). */
  threadStats(): Promise<ThreadStats[]> {
    return Promise.all(this.#shards.map(async (shard) => ({ ...(await shard.call<WorkerStats>({ type: 'stats' })), cpuHeldRuns: shard.cpuHeldRuns })))
  }

  /**
   * Lets go of a tenant now, on every thread (a busy tenant may have spilled to a second one):
   * its isolates are disposed once their runs in flight end, its programs and their sources go.
   */
  async evict(tenantId: string): Promise<Evicted> {
    this.#sources.forgetTenant(tenantId)
    return sumEvicted(await Promise.all(this.#shards.map((shard) => shard.call<Evicted>({ type: 'evict', tenantId }))))
  }

  async close(): Promise<void> {
    await Promise.all(this.#shards.map((shard) => shard.close()))
    this.#relay?.close()
  }

  /**
   * A thread is held (worker-shard.ts onStall): the runs it has not started go to their tenants'
   * next threads that are not held, as do their next runs while the holding step lasts. A tenant spinning
   * in a synchronous step then holds a co-located tenant's run for about HOLD_MS, not for the
   * spinner's CPU limit. With every thread held they stay where they are.
   */
  #rehome(stalled: WorkerShard): void {
    if (this.#shards.every((shard) => shard.stalled)) return
    const moved = stalled.withdraw()
    this.#movedRuns += moved.length
    for (const run of moved) this.#shardFor(run.task.tenantId).run(run.task).then(run.resolve, run.reject)
  }

  #shardFor(tenantId: string): WorkerShard {
    const order = this.#homes.order(tenantId)
    const home = this.#shards[order[0] ?? 0] as WorkerShard
    if (home.stalled) return this.#shards[order.find((index) => !(this.#shards[index] as WorkerShard).stalled) ?? order[0] ?? 0] as WorkerShard
    if (home.inFlight < this.#spillThreshold || order.length < 2) return home
    // The home thread is busy; the tenant spills only when it is a cause of that itself. A second
    // thread means a second isolate for the tenant (about 1.5 MiB, a cold start, its code
    // optimised again from nothing), worth it for a tenant with many runs waiting, not for each of
    // a thousand tenants with a run or two in flight: with that, 1,000 tenants spread over 100
    // connections made 650 second isolates in 5 s (RSS 2.3 to 3.2 GiB), each colder than one.
    if (home.inFlightOf(tenantId) * SPILL_SHARE < this.#spillThreshold) return home
    const second = this.#shards[order[1] as number] as WorkerShard
    return second.inFlight < home.inFlight ? second : home
  }
}
