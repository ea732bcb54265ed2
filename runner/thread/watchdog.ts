import { performance } from 'node:perf_hooks'
import { RunnerError, type RunnerErrorCode } from '../errors.js'
import type { LimitEnforcer } from './limit-enforcer.js'
import { RunTable } from '../run-table.js'

/** What the watchdog needs of an isolate: whether it is gone, and a way to stop it. */
export interface Watched {
  readonly disposed: boolean
  /** Why it was killed, when it was; null when V8 disposed it (its memory limit). */
  readonly killReason: RunnerErrorCode | null
  /** `culprit`: the run that went over (its siblings in the isolate are spared what they can be). */
  readonly kill: (reason: RunnerErrorCode, culprit?: unknown) => void
}

/** What the watchdog needs of a run (a BridgeRun): its own CPU, and a way to end it alone. */
export interface WatchedRun {
  /** Ended, however (a result, its isolate gone, or endEarly). */
  readonly ended: boolean
  /** CPU charged to this run alone (ns, cpu-ledger.ts), frozen once it ended. */
  cpuNs(): number
  /** CPU its code spent after `endEarly` (ns). */
  cpuSinceEnd(): number
  /** Tells the isolate the run is over (its code never resumes); false when that cannot be done. */
  markEnding(): boolean
  /** Whether code it is charged for may be executing (its own, or code no run is charged for). */
  mayBeExecuting(): boolean
  /** Ends the run with `error`, its isolate kept serving the tenant's other runs. */
  endEarly(error: unknown): void
  /** The early-ended run's code is over: its books may go to another run. */
  settle(): void
}

interface Entry {
  key: number
  target: Watched
  limits: LimitEnforcer
  run: WatchedRun
  startWall: number
  cpuNs: number
  timeoutMs: number
  /**
   * running; ending: over a limit, its code told not to resume, waiting for the step it may be
   * executing to end; ended: answered, watched for code that still runs until it settles.
   */
  state: 'running' | 'ending' | 'ended'
  code: RunnerErrorCode
  /** The run's CPU when it went over, and at the last tick (ns). */
  overAt: number
  lastCpu: number
  endedAt: number
}

export interface WatchdogOptions {
  /** How often the clocks are read. */
  intervalMs?: number
  /**
   * CPU (ms) a run's code may still spend after the watchdog ended it early: an answer on its way
   * into the isolate, the rest of the step that went over. Past it the code is running on (a
   * synchronous loop) and the isolate is stopped.
   */
  endGraceMs?: number
  /** How long (ms) an early-ended run is watched for code that still runs before its books are released. */
  settleMs?: number
}

const DEFAULTS = { intervalMs: 5, endGraceMs: 20, settleMs: 1000 }

/**
 * One watchdog per worker thread for every run in it. isolated-vm's per-call `timeout` does not
 * stop code that resumes after an awaited host call or queued microtasks (isolated-vm #185, #318),
 * so instead this reads each run's CPU (its own: cpu-ledger.ts) and the wall clock on a timer.
 *
 * A run over its CPU or wall-clock limit is ended alone: it answers with its limit's code at once,
 * its isolate keeps serving the tenant's other runs, and the platform never resumes its code (each
 * of its host calls answers that it ended). Only when its code keeps running past `endGraceMs` of
 * CPU (a synchronous loop, which nothing but termination stops) is the isolate killed, naming it
 * the culprit: its siblings in flight then end with SCRIPT_SIBLING_LIMIT, which the gateway runs
 * again on a fresh isolate. The watchdog also notices an isolate that isolated-vm disposed for its
 * memory limit (nothing else reports it to a run waiting for its result): a heap is the isolate's,
 * not a run's, so every run in it ends with SCRIPT_MEMORY_LIMIT.
 */
export class Watchdog {
  /** By a number of the watchdog's: one entry per run, so not a Set (see ../run-table.ts). */
  readonly #entries = new RunTable<number, Entry>()
  #nextKey = 1
  readonly #intervalMs: number
  readonly #endGraceNs: number
  readonly #settleMs: number
  #timer: NodeJS.Timeout | null = null

  constructor(options: WatchdogOptions = {}) {
    const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs
    if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new RangeError('options.intervalMs must be a positive integer')
    const endGraceMs = options.endGraceMs ?? DEFAULTS.endGraceMs
    if (typeof endGraceMs !== 'number' || !(endGraceMs >= 0)) throw new RangeError('options.endGraceMs must be a number >= 0')
    const settleMs = options.settleMs ?? DEFAULTS.settleMs
    if (typeof settleMs !== 'number' || !(settleMs >= 0)) throw new RangeError('options.settleMs must be a number >= 0')
    this.#intervalMs = intervalMs
    this.#endGraceNs = endGraceMs * 1e6
    this.#settleMs = settleMs
  }

  /**
   * Starts watching `run` in `target`; a run over its wall or CPU time is reported to `limits` and
   * ended. The returned function stops watching and gives the CPU the run used (ns).
   */
  watch(target: Watched, limits: LimitEnforcer, run: WatchedRun): () => bigint {
    const entry: Entry = {
      key: this.#nextKey++,
      target,
      limits,
      run,
      startWall: performance.now(),
      cpuNs: limits.limits.cpuMs * 1e6,
      timeoutMs: limits.limits.timeoutMs,
      state: 'running',
      code: 'SCRIPT_CPU_LIMIT',
      overAt: 0,
      lastCpu: 0,
      endedAt: 0,
    }
    this.#entries.set(entry.key, entry)
    if (this.#timer === null) this.#timer = setInterval(() => this.#check(), this.#intervalMs)
    return () => {
      // The timer stops at its next tick with nothing to watch: not here, where a busy worker
      // would stop and start it on every run. An early-ended run stays watched until it settles.
      if (entry.state !== 'ended') this.#entries.delete(entry.key)
      return BigInt(Math.round(run.cpuNs()))
    }
  }

  #check(): void {
    if (this.#entries.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer)
      this.#timer = null
      return
    }
    const now = performance.now()
    for (const entry of this.#entries.values()) {
      if (entry.state === 'ended') this.#checkEnded(entry, now)
      // Over already, and not for a limit: its host reads its CPU when it stops watching it. Its
      // isolate may be gone by then because the run's end let a retired one go (an eviction right
      // behind it), which is no memory limit of the run's.
      else if (entry.state === 'running' && entry.run.ended) continue
      else if (entry.target.disposed) {
        this.#entries.delete(entry.key)
        // Killed for a sibling run's CPU or wall time, this run is not over a limit of its own.
        const reason = entry.target.killReason
        if (reason === null || reason === 'SCRIPT_MEMORY_LIMIT') entry.limits.exceed('SCRIPT_MEMORY_LIMIT')
        entry.target.kill('SCRIPT_MEMORY_LIMIT')
      } else if (entry.state === 'ending') this.#checkEnding(entry, now)
      else if (now - entry.startWall > entry.timeoutMs) this.#over(entry, 'SCRIPT_TIMEOUT', now)
      else if (entry.run.cpuNs() > entry.cpuNs) this.#over(entry, 'SCRIPT_CPU_LIMIT', now)
    }
  }

  /** The run went over `code`'s limit: its code is told not to resume, and it is ended once it is not executing. */
  #over(entry: Entry, code: RunnerErrorCode, now: number): void {
    entry.limits.exceed(code)
    entry.code = code
    if (!entry.run.markEnding()) {
      // No slot of its own (a thread with more runs in flight than slots): stop the isolate.
      this.#entries.delete(entry.key)
      entry.target.kill(code, entry.run)
      return
    }
    entry.state = 'ending'
    entry.overAt = entry.lastCpu = entry.run.cpuNs()
    this.#checkEnding(entry, now)
  }

  /**
   * A run over a limit may be executing: an isolate cannot stop one run's code without stopping
   * all, so it is ended once it is not (another run's code is, or its CPU stopped growing); if its
   * CPU keeps growing past the grace (a synchronous loop, or a program's top-level code it is
   * charged for), the isolate is killed with it as culprit.
   */
  #checkEnding(entry: Entry, now: number): void {
    const run = entry.run
    if (run.ended) {
      // It finished the step it was in, and with it the run; the limit it went over answers it.
      this.#entries.delete(entry.key)
      return
    }
    const cpu = run.cpuNs()
    if (cpu - entry.overAt > this.#endGraceNs) {
      this.#entries.delete(entry.key)
      entry.target.kill(entry.code, run)
    } else if (!run.mayBeExecuting() || cpu === entry.lastCpu) {
      entry.state = 'ended'
      entry.endedAt = now
      run.endEarly(new RunnerError(entry.code))
    } else {
      entry.lastCpu = cpu
    }
  }

  /** An early-ended run: code of it that still runs (an answer already on its way in) must stop within the grace. */
  #checkEnded(entry: Entry, now: number): void {
    if (entry.target.disposed) {
      this.#entries.delete(entry.key)
      entry.run.settle()
    } else if (entry.run.cpuSinceEnd() > this.#endGraceNs) {
      this.#entries.delete(entry.key)
      entry.target.kill(entry.code, entry.run)
      entry.run.settle()
    } else if (now - entry.endedAt > this.#settleMs) {
      this.#entries.delete(entry.key)
      entry.run.settle()
    }
  }
}
