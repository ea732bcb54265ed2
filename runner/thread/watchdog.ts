import type { RunnerErrorCode } from '../errors.js'
import type { LimitEnforcer } from './limit-enforcer.js'

/** What the watchdog needs of an isolate: its clocks, whether it is gone, and a way to stop it. */
export interface Watched {
  readonly cpuTimeNs: () => bigint
  readonly disposed: boolean
  /** Why it was killed, when it was; null when V8 disposed it (its memory limit). */
  readonly killReason: RunnerErrorCode | null
  /** `culprit`: the run that went over (its siblings in the isolate are spared what they can be). */
  readonly kill: (reason: RunnerErrorCode, culprit?: unknown) => void
}

interface Entry {
  target: Watched
  limits: LimitEnforcer
  startCpu: bigint
  startWall: number
  cpuNs: bigint
  timeoutMs: number
  culprit: unknown
}

export interface WatchdogOptions {
  /** How often the clocks are read. */
  intervalMs?: number
}

const DEFAULTS = { intervalMs: 5 }

/**
 * One watchdog per worker thread for every run in it. isolated-vm's per-call `timeout` does not
 * stop code that resumes after an awaited host call or queued microtasks (isolated-vm #185, #318),
 * and runs start with an ignored (fire-and-forget) call, so instead this reads each isolate's CPU
 * clock and the wall clock on a timer and kills an isolate whose run went over. It also notices an
 * isolate that isolated-vm disposed for its memory limit (nothing else reports it to a run that
 * is waiting for its result) and kills it with SCRIPT_MEMORY_LIMIT, which ends its runs.
 */
export class Watchdog {
  readonly #entries = new Set<Entry>()
  readonly #intervalMs: number
  #timer: NodeJS.Timeout | null = null

  constructor(options: WatchdogOptions = {}) {
    const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs
    if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new RangeError('options.intervalMs must be a positive integer')
    this.#intervalMs = intervalMs
  }

  /**
   * Starts watching a run in `target`; a run over its wall or CPU time is reported to `limits`
   * and its isolate stopped. The returned function stops watching and gives the CPU used (ns).
   */
  watch(target: Watched, limits: LimitEnforcer, culprit?: unknown): () => bigint {
    const entry: Entry = {
      target,
      limits,
      startCpu: target.cpuTimeNs(),
      startWall: performance.now(),
      cpuNs: BigInt(limits.limits.cpuMs) * 1_000_000n,
      timeoutMs: limits.limits.timeoutMs,
      culprit,
    }
    this.#entries.add(entry)
    if (this.#timer === null) this.#timer = setInterval(() => this.#check(), this.#intervalMs)
    return () => {
      // The timer stops at its next tick with nothing to watch: not here, where a busy worker
      // would stop and start it on every run.
      this.#entries.delete(entry)
      const used = target.cpuTimeNs() - entry.startCpu
      // An isolate disposed by V8 for its memory limit reports no clock: never a negative time.
      return used > 0n ? used : 0n
    }
  }

  #check(): void {
    if (this.#entries.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer)
      this.#timer = null
      return
    }
    const now = performance.now()
    for (const entry of this.#entries) {
      if (entry.target.disposed) {
        this.#entries.delete(entry)
        // Killed for a sibling run's CPU or wall time, this run is not over a limit of its own.
        const reason = entry.target.killReason
        if (reason === null || reason === 'SCRIPT_MEMORY_LIMIT') entry.limits.exceed('SCRIPT_MEMORY_LIMIT')
        entry.target.kill('SCRIPT_MEMORY_LIMIT')
      } else if (now - entry.startWall > entry.timeoutMs) {
        this.#entries.delete(entry)
        entry.limits.exceed('SCRIPT_TIMEOUT')
        entry.target.kill('SCRIPT_TIMEOUT', entry.culprit)
      } else if (entry.target.cpuTimeNs() - entry.startCpu > entry.cpuNs) {
        this.#entries.delete(entry)
        entry.limits.exceed('SCRIPT_CPU_LIMIT')
        entry.target.kill('SCRIPT_CPU_LIMIT', entry.culprit)
      }
    }
  }
}
