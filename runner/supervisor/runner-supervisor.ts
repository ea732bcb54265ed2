import { RunnerError } from '../errors.js'
import type { HostCallHandler } from '../host-relay.js'
import type { NearSource } from '../near-copies.js'
import { sumStats, type IsolatePoolOptions, type PoolStats } from '../process/isolate-pool.js'
import { failedRun, type CheckResult, type Executor, type RunResult, type RunTask, type TenantEvictor } from '../protocol.js'
import { CrashBlame, type BlameDecision } from './crash-blame.js'
import { ProbationLane } from './probation-lane.js'
import { Quarantine, QUARANTINE_DEFAULTS, type QuarantineOptions } from './quarantine.js'
import { Rendezvous } from '../rendezvous.js'
import { RunnerFleet, type RunnerFleetEvent } from './runner-fleet.js'
import { evictTenant, type RunnersEvicted } from './tenant-eviction.js'
import type { RunnerSlot } from './runner-slot.js'
import type { RunnerMessage } from '../framing.js'

export interface RunnerSupervisorOptions {
  /** Runner processes serving tenants. */
  runners?: number
  /**
   * Standby runner processes, started and idle, that take a crashed runner's place at once
   * (a cold runner needs its process, loader and worker threads first: about 0.4 s built,
   * over 1 s under a TypeScript loader). 0 restarts cold.
   */
  standby?: number
  /** The IsolatePool of each runner process (threads per runner, isolate caps, ...). */
  pool?: IsolatePoolOptions
  /** Wait before starting a replacement process. */
  restartDelayMs?: number
  /**
   * After a crash: wait before starting the next standby (a standby took the crashed runner's
   * place) or the probation runner again. A process's start takes a core for about 0.3 s, which
   * the runs the crash sent again and the tenants' first runs on the new runner need then.
   */
  standbyDelayMs?: number
  /** Ceiling of the doubling wait between starts of a process that keeps dying while starting. */
  maxRestartDelayMs?: number
  /** Runs wait this long for a runner that is down, then answer RUNNER_UNAVAILABLE. */
  unavailableAfterMs?: number
  /** Runs waiting for one runner that is down; beyond, RUNNER_UNAVAILABLE at once. */
  maxWaiting?: number
  /** How long `close()` lets a runner stop before killing it. */
  closeTimeoutMs?: number
  /** K crashes held against a tenant in a window quarantine it for a cool-down. */
  quarantine?: QuarantineOptions
  /**
   * The probation runner, where the suspects of a crash run (the prime suspect alone): started with
   * the others ('ready', so suspects run again at once), or at the first crash ('on-demand').
   */
  probation?: 'ready' | 'on-demand'
  /**
   * Worker threads of the probation runner (1): it serves suspects only, and after a crash it is
   * the runner that starts again most often (a convicted tenant's runs go there while its crashes
   * count), so its start is kept cheap. `pool.threads` is the serving runners' and the standbys'.
   */
  probationThreads?: number
  /** How long a suspect has the probation runner to itself before the next goes in beside it (ProbationLane, 50 ms). */
  probationAloneMs?: number
  /** Crashes, restarts, blame and quarantines, for the logs. */
  onEvent?: (event: RunnerEvent) => void
  /** Answers the host calls scripts make to `pool.remoteHostApis` (db, cache, events, fetch). */
  hostCalls?: HostCallHandler
  /**
   * The data behind the `near` host APIs (the tenant cache), whose answers the runners' threads
   * may keep and answer again themselves (near-copies.ts). Without it they keep nothing.
   */
  near?: NearSource
}

export type RunnerEvent = RunnerFleetEvent | BlameDecision

export interface RunnerInfo {
  runner: number
  pid: number | undefined
  ready: boolean
  inFlight: number
  starts: number
}

/** One runner's counters, or null when it is down or did not answer in time. */
export interface RunnerStatsEntry {
  runner: number
  pid: number | undefined
  stats: PoolStats | null
}

export interface RunnerSupervisorStats extends PoolStats {
  runners: number
  runnersReady: number
  runnerCrashes: number
  quarantinedTenants: number
  quarantinedRuns: number
}

/** What the gateway itself counts of crashes and their containment (no runner is asked). */
export interface RunnerIncidents {
  runnerCrashes: number
  quarantinedTenants: number
  quarantinedRuns: number
  /** Runs lost to a crash before any effect, run again (once). */
  retriedRuns: number
  /** Runs ended by a sibling's limit kill before any effect, run again on a fresh isolate (once). */
  retriedSiblings: number
  /** Runs let onto the probation runner. */
  probationRuns: number
  /** Tenants suspected now, and decisions so far: suspects made, convicted, cleared, crashes blamed on nobody. */
  suspects: number
  suspected: number
  convicted: number
  cleared: number
  unattributedCrashes: number
}

const DEFAULTS = {
  runners: 2,
  standby: 1,
  restartDelayMs: 50,
  standbyDelayMs: 1_000,
  maxRestartDelayMs: 2000,
  unavailableAfterMs: 10_000,
  maxWaiting: 10_000,
  closeTimeoutMs: 5_000,
  probationThreads: 1,
} as const

/** How long a run about to go on probation waits for crashed runners' exits (their verdicts). */
const VERDICT_WAIT_MS = 1_000

type NumericOption = keyof typeof DEFAULTS
const MAY_BE_ZERO = new Set<NumericOption>(['standby', 'restartDelayMs', 'standbyDelayMs'])

/**
 * Runner processes supervised by the gateway. Tenants are sharded across them by rendezvous
 * hashing, so a runner that crashes (a tenant script can make V8 abort its process) fails only
 * the runs in flight on it, with RUNNER_CRASHED; the other runners keep serving, a standby
 * process takes the crashed one's place at once (or a new one starts), and a tenant that keeps
 * crashing runners is quarantined: its runs answer TENANT_QUARANTINED without reaching a
 * runner. The surface is IsolatePool's.
 *
 * @example
 * const runners = new RunnerSupervisor({ runners: 2, pool: { threads: 2 } })
 * await runners.ready()
 * const result = await runners.run({ kind: 'fetch', program, input: request, env: {}, limits })
 * await runners.close()
 */
export class RunnerSupervisor implements Executor, TenantEvictor {
  readonly #fleet: RunnerFleet
  readonly #quarantine: Quarantine
  readonly #blame: CrashBlame
  readonly #probation: ProbationLane
  readonly #onEvent: (event: RunnerEvent) => void
  readonly #homes: Rendezvous
  #crashes = 0
  #quarantinedRuns = 0
  #retriedRuns = 0
  #retriedSiblings = 0

  constructor(options: RunnerSupervisorOptions = {}) {
    const numeric = {} as Record<NumericOption, number>
    for (const key of Object.keys(DEFAULTS) as NumericOption[]) {
      const value = options[key] ?? DEFAULTS[key]
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${key} must be an integer`)
      const min = MAY_BE_ZERO.has(key) ? 0 : 1
      if (value < min) throw new RangeError(`options.${key} must be ${min === 0 ? 'zero or more' : 'a positive integer'}`)
      numeric[key] = value
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw new TypeError('options.onEvent must be a function')
    this.#onEvent = options.onEvent ?? (() => {})
    this.#quarantine = new Quarantine(options.quarantine)
    this.#blame = new CrashBlame({
      quarantine: this.#quarantine,
      suspicionMs: options.quarantine?.windowMs ?? QUARANTINE_DEFAULTS.windowMs,
      onDecision: (decision) => this.#onDecision(decision),
    })
    this.#probation = new ProbationLane({ aloneMs: options.probationAloneMs, mustBeAlone: (tenantId) => this.#blame.mustBeAlone(tenantId) })
    const probation = options.probation ?? 'ready'
    if (probation !== 'ready' && probation !== 'on-demand') throw new TypeError("options.probation must be 'ready' or 'on-demand'")
    if (options.hostCalls !== undefined && typeof options.hostCalls !== 'function') throw new TypeError('options.hostCalls must be a function')
    const { hostCalls: _unserializable, ...pool } = options.pool ?? {}
    const { probationThreads, ...fleet } = numeric
    this.#fleet = new RunnerFleet({ ...fleet, pool, probationPool: { ...pool, threads: probationThreads }, probation, hostCalls: options.hostCalls, near: options.near, onEvent: (event) => this.#onFleetEvent(event) })
    this.#homes = new Rendezvous(this.#fleet.slots.length)
  }

  /** Resolves when every runner has served once; rejects if one dies before it could. */
  ready(): Promise<void> {
    return this.#fleet.ready()
  }

  /** The runner a tenant's runs go to. */
  runnerFor(tenantId: string): number {
    return this.#home(tenantId).index
  }

  get runners(): RunnerInfo[] {
    return this.#fleet.slots.map((slot) => ({ runner: slot.index, pid: slot.client?.pid, ready: slot.serving, inFlight: slot.inFlight, starts: slot.starts }))
  }

  /**
   * Runners down for unavailableAfterMs or more (dead, and every start since failed): their
   * tenants' runs are answered RUNNER_UNAVAILABLE until one serves again. Empty while all serve,
   * or are being replaced within that time.
   */
  get unavailableRunners(): number[] {
    return this.#fleet.slots.filter((slot) => slot.unavailable).map((slot) => slot.index)
  }

  /** The probation runner (suspects of a crash run there), and how many standbys are ready now. */
  get probation(): RunnerInfo & { readyStandbys: number } {
    const slot = this.#fleet.probation
    return { runner: slot.index, pid: slot.client?.pid, ready: slot.serving, inFlight: slot.inFlight, starts: slot.starts, readyStandbys: this.#fleet.readyStandbys }
  }

  run(task: RunTask): Promise<RunResult> {
    const tenantId = task.program.tenantId
    // Most runs: a tenant neither refused nor suspected, at home, answered without an error. A
    // promise chained, not async functions awaiting each other: every run passes here.
    if (this.#quarantine.until(tenantId) === null && !this.#blame.suspected(tenantId)) {
      return this.#runOn(this.#home(tenantId), task, tenantId, false).then((result) => (result.error === undefined ? result : this.#again(task, tenantId, result, false)))
    }
    return this.#attempt(task, tenantId).then(({ result, probation }) => this.#again(task, tenantId, result, probation))
  }

  /** A run that ended with an error: run again when it was lost in a way that is not its own doing. */
  async #again(task: RunTask, tenantId: string, result: RunResult, probation: boolean): Promise<RunResult> {
    // Lost to a crash before it did anything outside its isolate, on a runner it shared: run it
    // again, once (a suspect now, it goes to probation). Lost alone, on probation or at home: its
    // own doing, and run again it would only crash another runner (the probation runner's start
    // and the bomb's own last collections cost the machine about a second of CPU).
    if (result.error?.code === 'RUNNER_CRASHED' && result.error.retryable === true && (probation ? this.#blame.shared(tenantId) : !(await this.#lostAlone(tenantId)))) {
      this.#retriedRuns++
      ;({ result } = await this.#attempt(task, tenantId))
    } else if (result.error?.code === 'SCRIPT_SIBLING_LIMIT' && result.error.retryable === true) {
      // A sibling's limit kill took its isolate before it caused any effect: again, on a fresh one.
      this.#retriedSiblings++
      ;({ result } = await this.#attempt(task, tenantId))
    } else if (result.error?.code === 'RUNNER_UNAVAILABLE' && result.error.retryable === true) {
      // It reached a runner as that one turned unusable (a thread that could not start), and never
      // started: again, on the runner that takes its place (runner-client.ts #markUnusable).
      ;({ result } = await this.#attempt(task, tenantId))
    }
    if (result.error?.retryable !== undefined) result.error = { code: result.error.code, message: result.error.message }
    return result
  }

  /**
   * Whether a run lost at home went down with a runner it had to itself: the crash's verdict (the
   * runner's fatal line or its exit, waited for as a run about to go on probation waits) convicts
   * its tenant, alone in flight there. A verdict that does not come in time, an outside signal or
   * a crash shared with other tenants leaves it a suspect whose run goes again.
   */
  async #lostAlone(tenantId: string): Promise<boolean> {
    await this.#blame.settled(VERDICT_WAIT_MS)
    return this.#quarantine.crashesOf(tenantId) > 0 && !this.#blame.shared(tenantId)
  }

  /** One try: refused when quarantined, on the probation runner when suspected, else at home. */
  async #attempt(task: RunTask, tenantId: string): Promise<{ result: RunResult; probation: boolean }> {
    const refused = this.#refuseQuarantined(tenantId)
    if (refused !== null) return { result: refused, probation: false }
    if (!this.#blame.suspected(tenantId)) return { result: await this.#runOn(this.#home(tenantId), task, tenantId, false), probation: false }
    if (!(await this.#probation.turn(tenantId))) {
      // Taken out of the line by a verdict while it waited: quarantined, it is refused; cleared, it
      // runs at home. (A quarantined bomb sent home crashed its home runner.)
      return { result: this.#refuseQuarantined(tenantId) ?? (await this.#runOn(this.#home(tenantId), task, tenantId, false)), probation: false }
    }
    let result: RunResult | null = null
    try {
      // The verdicts of crashes still dying come first: convicted enough, it is refused, not let
      // crash again; cleared (an outside signal, the culprit found), it goes home.
      await this.#blame.settled(VERDICT_WAIT_MS)
      result = this.#refuseQuarantined(tenantId)
      if (result === null && this.#blame.suspected(tenantId)) result = await this.#runOn(this.#fleet.probation, task, tenantId, true)
    } finally {
      this.#probation.done(tenantId)
    }
    if (result === null) return { result: await this.#runOn(this.#home(tenantId), task, tenantId, false), probation: false }
    const code = result.error?.code
    if (code !== 'RUNNER_CRASHED' && code !== 'RUNNER_UNAVAILABLE' && code !== 'TENANT_QUARANTINED') this.#blame.ranClean(tenantId)
    return { result, probation: true }
  }

  #runOn(slot: RunnerSlot, task: RunTask, tenantId: string, probation: boolean): Promise<RunResult> {
    return (this.#dispatch(slot, { type: 'run', task }, tenantId) as Promise<RunResult>).catch((error: unknown) => {
      if (!(error instanceof RunnerError)) throw error
      // A worker thread that died under the run while its runner process lived on (the fleet
      // reports process crashes, not this): alone on probation that convicts, elsewhere it suspects.
      if (error.code === 'RUNNER_CRASHED' && error.data.threadOnly === true) this.#blame.threadCrashed(slot.index, tenantId, probation && this.#probation.alone(tenantId))
      return failedRun(error.data.retryable === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, retryable: error.data.retryable })
    })
  }

  #refuseQuarantined(tenantId: string): RunResult | null {
    const until = this.#quarantine.until(tenantId)
    if (until === null) return null
    this.#quarantinedRuns++
    const seconds = Math.ceil((until - Date.now()) / 1000)
    return failedRun({ code: 'TENANT_QUARANTINED', message: `the tenant crashed runners repeatedly; its runs are refused for another ${seconds} s` })
  }

  /** Compiles a source on the least busy serving runner: syntax errors, no imports. */
  check(source: string): Promise<CheckResult> {
    // Not one a synchronous step holds (RunnerClient.held): the check would wait for the step's end.
    const free = this.#fleet.slots.filter((slot) => slot.serving && !slot.held)
    const serving = free.length > 0 ? free : this.#fleet.slots.filter((slot) => slot.serving)
    const candidates = serving.length > 0 ? serving : this.#fleet.slots
    const slot = candidates.reduce((a, b) => (b.inFlight < a.inFlight ? b : a))
    return this.#dispatch(slot, { type: 'check', source }, null) as Promise<CheckResult>
  }

  /**
   * Each runner's isolate and compile-cache counters, asked of every serving runner at once. A
   * runner that is down, or does not answer within `timeoutMs` (a scrape must not hang on a
   * runner that is stuck or dying), is listed with `stats: null`. Counters start from zero in a
   * new runner process, as Prometheus counters do after a restart.
   */
  async runnerStats(timeoutMs = 1000): Promise<RunnerStatsEntry[]> {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be a positive integer')
    return Promise.all(this.#fleet.slots.map((slot) => this.#askStats(slot, timeoutMs)))
  }

  async #askStats(slot: RunnerSlot, timeoutMs: number): Promise<RunnerStatsEntry> {
    const client = slot.serving ? slot.client : null
    if (client === null) return { runner: slot.index, pid: undefined, stats: null }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, null)
      timer.unref()
    })
    const asked = (client.call({ type: 'stats' }, null) as Promise<PoolStats>).catch(() => null)
    const stats = await Promise.race([asked, late])
    clearTimeout(timer)
    return { runner: slot.index, pid: client.pid, stats }
  }

  /** What the gateway itself counts of its runners: crashes, blame, probation, quarantines (no runner is asked). */
  get incidents(): RunnerIncidents {
    const { suspects, convicted, cleared, unattributed } = this.#blame.counts
    return {
      runnerCrashes: this.#crashes,
      quarantinedTenants: this.#quarantine.size,
      quarantinedRuns: this.#quarantinedRuns,
      retriedRuns: this.#retriedRuns,
      retriedSiblings: this.#retriedSiblings,
      probationRuns: this.#probation.admitted,
      suspects: this.#blame.suspects,
      suspected: suspects,
      convicted,
      cleared,
      unattributedCrashes: unattributed,
    }
  }

  /** Isolate and compile-cache counters summed over the serving runners, and the runners' own. */
  async stats(timeoutMs?: number): Promise<RunnerSupervisorStats> {
    // The probation runner's counters too: a suspect's thread crash there is a thread crash.
    const entries = [...(await this.runnerStats(timeoutMs)), await this.#askStats(this.#fleet.probation, timeoutMs ?? 1000)]
    const sum = sumStats(entries.map((entry) => entry.stats))
    return {
      ...sum,
      runners: this.#fleet.slots.length,
      runnersReady: this.#fleet.slots.filter((slot) => slot.serving).length,
      ...this.incidents,
    }
  }

  /**
   * Lets go of a tenant on every runner now, the probation runner included (a deleted or suspended
   * tenant): its isolates, compiled programs and sources (tenant-eviction.ts). A runner that does
   * not answer within `timeoutMs` keeps them until its idle timeout.
   */
  evict(tenantId: string, timeoutMs = 2000): Promise<RunnersEvicted> {
    if (this.#fleet.closed) return Promise.resolve({ isolates: 0, programs: 0, unanswered: 0 })
    return evictTenant([...this.#fleet.slots, this.#fleet.probation], tenantId, timeoutMs)
  }

  /** Stops every runner (killed after `closeTimeoutMs`); no runner process outlives this. */
  close(): Promise<void> {
    return this.#fleet.close()
  }

  /**
   * The runner a tenant's run goes to: its first choice, or while a synchronous step holds that one
   * (a runner without worker threads, RunnerClient.held), the next in its order that serves and is
   * not held. Held all, it waits at home.
   */
  #home(tenantId: string): RunnerSlot {
    const slots = this.#fleet.slots
    const order = this.#homes.order(tenantId)
    const home = slots[order[0] as number] as RunnerSlot
    if (!home.held) return home
    for (const index of order) {
      const slot = slots[index] as RunnerSlot
      if (slot.serving && !slot.held) return slot
    }
    return home
  }

  #dispatch(slot: RunnerSlot, message: RunnerMessage, tenantId: string | null): Promise<unknown> {
    if (this.#fleet.closed) return Promise.reject(new RunnerError('RUNNER_UNAVAILABLE', 'the runners were closed'))
    return slot.dispatch(message, tenantId)
  }

  #onFleetEvent(event: RunnerFleetEvent): void {
    this.#onEvent(event)
    if (event.type === 'crash') {
      this.#crashes++
      this.#blame.crashed(event.runner, event.pid, event.tenants)
      // A fatal error it printed is its own ending, known before its exit: the verdict need not wait.
      if (event.fatal) this.#blame.exited(event.pid, null)
    } else if (event.type === 'exit') {
      this.#blame.exited(event.pid, event.signal)
    }
  }

  #onDecision(decision: BlameDecision): void {
    this.#onEvent(decision)
    if (decision.type === 'suspects') this.#fleet.wakeProbation()
    // Cleared, or refused from now on: its runs waiting for probation go home (or are refused there).
    else if (decision.type === 'cleared' || decision.type === 'quarantine') this.#probation.leave(decision.tenantId)
  }
}
