import { decodeResult, decodeTask, encodeResult, encodeTask, type CheckResult, type Evicted, type NamedTask, type RunResult, type WireResult, type WireTask } from '../protocol.js'
import type { HostCallSocket } from '../thread/host-call-socket.js'
import type { IsolateHost } from '../thread/isolate-host.js'
import { hostFault, startIsolateHost } from '../thread/thread-host.js'
import { threadHostSettings, timerSlackUs, type IsolatePoolOptions, type PoolStats } from './isolate-pool.js'
import { ProgramMissing, ProgramSources, TaskHeads } from './program-sources.js'
import type { RunnerHold } from './runner-hold.js'
import { setTimerSlack } from './timer-slack.js'

/** What a runner process asks of its pool (runner-process.ts): IsolatePool, or InlinePool with `threads: 0`. */
export interface RunnerPool {
  runWire(task: WireTask): Promise<WireResult>
  check(source: string): Promise<CheckResult>
  stats(): Promise<PoolStats>
  evict(tenantId: string): Promise<Evicted>
  close(): Promise<void>
}

/**
 * A runner process's runs on its own thread, with no worker threads (`threads: 0`, the setting
 * ISOGATE_WORKERS=0): the process's main thread reads the gateway's socket and enters the
 * tenants' isolates itself, as workerd's threads do. Measured against one worker thread a runner
 * (hello at 100 connections, same-run A/B), a request cost about 18 us less CPU, a fifth of the
 * server's: the hop to a worker thread and back (both threads' wake-ups, the runs and answers
 * copied across, the shard's books) is gone.
 *
 * A tenant spinning in a synchronous step holds this thread until its step's bound (its CPU or
 * wall limit): after ~20 ms the runner's hold watcher reports it, and the gateway runs the runs
 * this thread had not started on another runner (runner-hold.ts), as a worker thread's shard moves
 * them to another thread (hold-watch.ts). What it gives up: the shard's fair slots and CPU shares
 * (slot-shares.ts, cpu-gate.ts) are not there: the gateway's admission is what shares the runner
 * (per-tenant caps, fair lanes). A runner that dies loses its runs in flight as before, and the
 * gateway runs them again where they caused no effect.
 *
 * Host APIs answered by the gateway go over the runner's host-call socket (`hostSocket`), as a
 * worker thread's do; without one only the built-in APIs (timers, crypto) are offered.
 *
 * @example
 * const pool = await InlinePool.create({ threads: 0 })
 * const result = await pool.run(task)
 * await pool.close()
 */
export class InlinePool implements RunnerPool {
  readonly #host: IsolateHost
  readonly #socket: HostCallSocket | null
  readonly #hold: RunnerHold | undefined
  readonly #sources = new ProgramSources()
  readonly #heads = new TaskHeads()

  private constructor(host: IsolateHost, socket: HostCallSocket | null, hold: RunnerHold | undefined) {
    this.#host = host
    this.#socket = socket
    this.#hold = hold
  }

  /**
   * Loads the host API modules and compiles the platform (its code cache made here), as a worker
   * thread does at its start. `hold`: where its synchronous steps are marked for the runner's
   * hold watcher (runner-hold.ts); the runner process starts it and admits runs with it.
   */
  static async create(options: IsolatePoolOptions = {}, hold?: RunnerHold): Promise<InlinePool> {
    if (options.threads !== undefined && options.threads !== 0) throw new RangeError('an InlinePool has no worker threads: options.threads must be 0')
    const settings = threadHostSettings(options)
    if (options.hostCalls !== undefined && settings.hostSocket === undefined && (options.remoteHostApis ?? []).length > 0) throw new TypeError('an InlinePool reaches remote host APIs over options.hostSocket only')
    setTimerSlack(timerSlackUs(options.timerSlackUs))
    const { host, hostSocket } = await startIsolateHost(settings, hold?.steps)
    return new InlinePool(host, hostSocket, hold)
  }

  /** Runs a task (for callers in this process, as IsolatePool.run). */
  run(task: NamedTask): Promise<RunResult> {
    return this.runWire(encodeTask(task)).then(decodeResult)
  }

  /**
   * Runs an encoded task and answers its result encoded. A task may name its program without its
   * source when this pool was sent it before; one it no longer has rejects with ProgramMissing,
   * and the gateway sends the run again with the source.
   */
  runWire(task: WireTask): Promise<WireResult> {
    this.#sources.keep(task)
    if (!this.#heads.fill(task)) return Promise.reject(new ProgramMissing(task.key))
    let decoded = decodeTask(task)
    if (decoded !== null && task.source === undefined && this.#host.lacks(decoded)) {
      const source = this.#sources.get(task.key)
      if (source === undefined) return Promise.reject(new ProgramMissing(task.key))
      decoded = decodeTask({ ...task, source })
    }
    if (decoded === null) return Promise.reject(new ProgramMissing(task.key))
    return this.#host.run(decoded).then(encodeResult, (error: unknown) => encodeResult(hostFault(error)))
  }

  check(source: string): Promise<CheckResult> {
    return this.#host.check(source)
  }

  async stats(): Promise<PoolStats> {
    return { ...this.#host.stats(), keptAnswers: this.#socket?.near.hits ?? 0, runBatches: 0, cpuHeldRuns: 0, threads: 0, threadCrashes: 0, movedRuns: this.#hold?.dropped ?? 0 }
  }

  async evict(tenantId: string): Promise<Evicted> {
    this.#sources.forgetTenant(tenantId)
    return this.#host.evict(tenantId)
  }

  async close(): Promise<void> {
    await this.#host.shutdown()
    this.#socket?.close()
    await this.#hold?.close()
  }
}
