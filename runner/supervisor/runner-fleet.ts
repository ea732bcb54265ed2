import { RunnerError } from '../errors.js'
import type { HostCallHandler } from '../host-relay.js'
import type { IsolatePoolOptions } from '../process/isolate-pool.js'
import { siblingModule } from '../process/platform-source.js'
import { RunnerClient, type RunnerExit, type RunnerLoss } from './runner-client.js'
import { RunnerSlot } from './runner-slot.js'
import { RunnerSocketFolder } from './socket-folder.js'
import { RUNNER_V8_FLAGS } from './v8-flags.js'
import { runnerEnvironment } from './malloc-tunables.js'
import type { NearSource } from '../near-copies.js'

export interface RunnerFleetOptions {
  runners: number
  standby: number
  pool: IsolatePoolOptions
  /** The probation runner's pool (RunnerSupervisorOptions.probationThreads). */
  probationPool: IsolatePoolOptions
  restartDelayMs: number
  /** After a crash: wait before the next standby starts, or the probation runner again (RunnerSupervisorOptions). */
  standbyDelayMs: number
  maxRestartDelayMs: number
  unavailableAfterMs: number
  maxWaiting: number
  closeTimeoutMs: number
  /** The probation runner: started with the others ('ready'), or at the first `wakeProbation()`. */
  probation: 'ready' | 'on-demand'
  onEvent(event: RunnerFleetEvent): void
  hostCalls?: HostCallHandler | undefined
  near?: NearSource | undefined
}

export type RunnerFleetEvent =
  /** A runner serves: its first start, or a restart (`startMs`: since it was lost). */
  | { type: 'ready'; runner: number; pid: number | undefined; startMs: number; restart: boolean }
  /** A serving runner was lost; its runs in flight were answered RUNNER_CRASHED. `fatal`: it printed a fatal error (RunnerLoss.fatal). */
  | { type: 'crash'; runner: number; pid: number | undefined; lostRuns: number; tenants: string[]; fatal: boolean }
  /** A process ended (`runner` is null for a standby, or one that was replaced). */
  | { type: 'exit'; runner: number | null; pid: number | undefined; code: number | null; signal: string | null }
  /**
   * A serving runner said it cannot serve all its tenants (a worker thread could not be replaced):
   * another takes its place, and it stops once its runs in flight are answered. Not a crash: no
   * tenant is blamed. `runner` is null for a standby.
   */
  | { type: 'unusable'; runner: number | null; pid: number | undefined; reason: string }

const STANDBY = 'standby'
/** A process that said it is unusable, stopping once its runs in flight are answered. */
const RETIRED = 'retired'

/**
 * The runner processes themselves: one per slot, plus standbys that are started and idle. When a
 * slot's runner is lost, a ready standby takes its place at once and a new standby starts behind
 * it; with none ready, a new process starts for the slot. Processes that keep dying while
 * starting are restarted with a doubling delay. Checked options come from RunnerSupervisor.
 *
 * What starts after a crash waits `standbyDelayMs`: the next standby, and the probation runner
 * (which never takes a standby: suspects can wait for a cold start, the tenants of a crashed
 * serving runner should not). A process's start takes a core for about 0.3 s, and right after a
 * crash the cores are wanted by the runs it sent again and by the tenants' first runs on the
 * runner that took its place (measured, bench crash rows: a bystander's longest wait 100-126 ms
 * with the standby started 50 ms after the crash, 74-95 ms with it started 1.5 s after).
 */
export class RunnerFleet {
  readonly slots: readonly RunnerSlot[]
  /** The runner where suspects of a crash run, the prime suspect alone (CrashBlame, ProbationLane). */
  readonly probation: RunnerSlot
  /** The slots and the probation slot. */
  #all: readonly RunnerSlot[]
  readonly #options: RunnerFleetOptions
  readonly #sockets: RunnerSocketFolder
  readonly #entry = siblingModule('../process/runner-process', import.meta.url)
  readonly #execArgv = childExecArgv()
  readonly #env = runnerEnvironment(process.env)
  readonly #owners = new Map<RunnerClient, RunnerSlot | typeof STANDBY | typeof RETIRED>()
  readonly #standby: RunnerClient[] = []
  readonly #ready: Promise<void>
  #settleReady: { resolve(): void; reject(error: Error): void } | null = null
  #standbyTimer: NodeJS.Timeout | null = null
  #standbyFailures = 0
  #launches = 0
  #closed = false

  constructor(options: RunnerFleetOptions) {
    this.#options = options
    this.#ready = new Promise((resolve, reject) => {
      this.#settleReady = { resolve, reject }
    })
    // Keep an unobserved start failure from becoming an unhandled rejection; ready() reports it.
    this.#ready.catch(() => {})
    // Sockets live in a folder only this user can enter (a runner serves whoever connects first);
    // the folders a killed gateway left behind are swept on the way.
    this.#sockets = RunnerSocketFolder.create()
    const { unavailableAfterMs, maxWaiting } = options
    this.slots = Array.from({ length: options.runners }, (_, index) => new RunnerSlot({ index, unavailableAfterMs, maxWaiting }))
    this.probation = new RunnerSlot({ index: options.runners, unavailableAfterMs, maxWaiting })
    this.#all = options.probation === 'ready' ? [...this.slots, this.probation] : this.slots
    // Every runner's threads hear of a change to what they may keep, at the moment it is made.
    options.near?.onDrop((drop) => {
      if (!this.#closed) for (const client of this.#owners.keys()) client.dropNear(drop)
    })
    for (const slot of this.#all) this.#startSlot(slot)
    this.#topUpStandby()
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Standby processes ready to take a crashed runner's place now. */
  get readyStandbys(): number {
    return this.#standby.filter((client) => client.ready).length
  }

  /** Starts the probation runner if it is not running or starting. */
  wakeProbation(): void {
    if (this.#closed || this.#all.includes(this.probation)) return
    this.#all = [...this.slots, this.probation]
    this.probation.markDown(true)
    // Started cold: a ready standby is kept for the runner that just crashed.
    this.#startSlot(this.probation)
  }

  /** Resolves when every slot has served once; rejects if a runner dies before it could. */
  ready(): Promise<void> {
    return this.#ready
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#settleReady?.reject(new RunnerError('RUNNER_UNAVAILABLE', 'the runners were closed before they were ready'))
    this.#settleReady = null
    if (this.#standbyTimer !== null) clearTimeout(this.#standbyTimer)
    for (const slot of [...this.slots, this.probation]) {
      if (slot.timer !== null) clearTimeout(slot.timer)
      slot.failWaiting('the runners were closed')
    }
    await Promise.all([...this.#owners.keys()].map((client) => client.close(this.#options.closeTimeoutMs)))
    this.#sockets.remove()
  }

  #launch(owner: RunnerSlot | typeof STANDBY): RunnerClient {
    const client: RunnerClient = new RunnerClient({
      entry: this.#entry,
      execArgv: this.#execArgv,
      env: this.#env,
      socketPath: this.#sockets.socket(`${this.#launches++}.sock`),
      pool: owner === this.probation ? this.#options.probationPool : this.#options.pool,
      onReady: () => this.#onReady(client),
      onLost: (loss) => this.#onLost(client, loss),
      onExit: (exit) => this.#onExit(client, exit),
      onUnusable: (reason) => this.#onUnusable(client, reason),
      hostCalls: this.#options.hostCalls,
      near: this.#options.near,
    })
    this.#owners.set(client, owner)
    return client
  }

  #startSlot(slot: RunnerSlot): void {
    slot.timer = null
    if (this.#closed || slot.client !== null) return
    slot.starts++
    slot.client = this.#launch(slot)
  }

  #topUpStandby(): void {
    this.#standbyTimer = null
    while (!this.#closed && this.#standby.length < this.#options.standby) this.#standby.push(this.#launch(STANDBY))
  }

  #onReady(client: RunnerClient): void {
    if (this.#closed) return
    const owner = this.#owners.get(client)
    if (owner === STANDBY) {
      this.#standbyFailures = 0
      const down = this.slots.find((slot) => !slot.serving)
      if (down !== undefined) this.#promote(down, client)
      return
    }
    if (owner !== undefined && owner !== RETIRED && owner.client === client) this.#serve(owner, client)
  }

  /** A ready standby takes a slot that has no serving runner; whatever was starting for it stands by. */
  #promote(slot: RunnerSlot, standby: RunnerClient): void {
    this.#standby.splice(this.#standby.indexOf(standby), 1)
    if (slot.timer !== null) clearTimeout(slot.timer)
    slot.timer = null
    if (slot.client !== null) {
      this.#owners.set(slot.client, STANDBY)
      this.#standby.push(slot.client)
    }
    this.#owners.set(standby, slot)
    this.#serve(slot, standby)
    if (this.#standbyTimer === null) this.#standbyTimer = setTimeout(() => this.#topUpStandby(), this.#options.standbyDelayMs)
  }

  #serve(slot: RunnerSlot, client: RunnerClient): void {
    const startMs = slot.downForMs
    slot.serve(client)
    this.#options.onEvent({ type: 'ready', runner: slot.index, pid: client.pid, startMs, restart: slot.starts > 1 || this.#settleReady === null })
    if (this.#settleReady !== null && this.#all.every((other) => !other.down)) {
      this.#settleReady.resolve()
      this.#settleReady = null
    }
  }

  #onLost(client: RunnerClient, loss: RunnerLoss): void {
    if (this.#closed) return
    const owner = this.#owners.get(client)
    if (owner === RETIRED) return
    if (owner === STANDBY || owner === undefined) {
      this.#standby.splice(this.#standby.indexOf(client), 1)
      if (!loss.wasReady) this.#standbyFailures++
      if (this.#standbyTimer === null) this.#standbyTimer = setTimeout(() => this.#topUpStandby(), this.#delay(this.#standbyFailures))
      return
    }
    const slot = owner
    if (slot.client !== client) return
    slot.client = null
    slot.markDown()
    if (loss.wasReady) {
      // Lost while serving, not asked to stop: a crash.
      this.#options.onEvent({ type: 'crash', runner: slot.index, pid: client.pid, lostRuns: loss.lostCalls, tenants: [...loss.tenants], fatal: loss.fatal })
    } else {
      slot.failedStarts++
      this.#settleReady?.reject(new RunnerError('RUNNER_UNAVAILABLE', `runner ${slot.index} exited while starting`))
      this.#settleReady = null
    }
    if (slot === this.probation) {
      slot.timer = setTimeout(() => this.#startSlot(slot), loss.wasReady ? this.#options.standbyDelayMs : this.#delay(slot.failedStarts))
      return
    }
    const standby = this.#standby.find((candidate) => candidate.ready)
    if (standby !== undefined) this.#promote(slot, standby)
    else slot.timer = setTimeout(() => this.#startSlot(slot), this.#delay(slot.failedStarts))
  }

  /**
   * The runner cannot serve all its tenants (RunnerFleetEvent 'unusable'): its slot takes a ready
   * standby or starts a process (after the delay of a failed start: the cause may well be one the
   * next process meets too), and the runs sent to it are answered before it is stopped.
   */
  #onUnusable(client: RunnerClient, reason: string): void {
    const owner = this.#owners.get(client)
    if (this.#closed || owner === undefined || owner === RETIRED) return
    this.#owners.set(client, RETIRED)
    if (owner === STANDBY) {
      this.#standby.splice(this.#standby.indexOf(client), 1)
      this.#standbyFailures++
      if (this.#standbyTimer === null) this.#standbyTimer = setTimeout(() => this.#topUpStandby(), this.#delay(this.#standbyFailures))
      this.#options.onEvent({ type: 'unusable', runner: null, pid: client.pid, reason })
    } else if (owner.client === client) {
      const slot = owner
      this.#options.onEvent({ type: 'unusable', runner: slot.index, pid: client.pid, reason })
      slot.client = null
      slot.markDown()
      slot.failedStarts++
      const standby = slot === this.probation ? undefined : this.#standby.find((candidate) => candidate.ready)
      if (standby !== undefined) this.#promote(slot, standby)
      else slot.timer = setTimeout(() => this.#startSlot(slot), this.#delay(slot.failedStarts))
    }
    void this.#retire(client)
  }

  /** Stops a replaced runner once its runs in flight are answered, or after closeTimeoutMs. */
  async #retire(client: RunnerClient): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([client.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#options.closeTimeoutMs)))])
    clearTimeout(timer)
    await client.close(this.#options.closeTimeoutMs)
  }

  #onExit(client: RunnerClient, exit: RunnerExit): void {
    const owner = this.#owners.get(client)
    this.#owners.delete(client)
    const runner = owner === STANDBY || owner === RETIRED || owner === undefined ? null : owner.index
    this.#options.onEvent({ type: 'exit', runner, pid: exit.pid, code: exit.code, signal: exit.signal })
  }

  /** A process that keeps dying while starting (a missing bundle, a bad flag) must not spin the CPU. */
  #delay(failedStarts: number): number {
    const base = this.#options.restartDelayMs
    return failedStarts === 0 ? base : Math.min(Math.max(base, 1) * 2 ** failedStarts, this.#options.maxRestartDelayMs)
  }
}

/**
 * The child's Node flags: the parent's (under tsx or tap that includes the TypeScript loader the
 * runner module needs), without debugger flags (two processes cannot share an inspector port),
 * `--no-node-snapshot`, which isolated-vm requires on Node 20, and the isolates' V8 flags.
 */
function childExecArgv(): string[] {
  const argv = process.execArgv.filter((arg) => !/^--(inspect|debug)/.test(arg))
  for (const flag of ['--no-node-snapshot', ...RUNNER_V8_FLAGS]) if (!argv.includes(flag)) argv.push(flag)
  return argv
}
