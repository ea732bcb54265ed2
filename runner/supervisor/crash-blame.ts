import type { Quarantine } from './quarantine.js'

/**
 * Signals that come from outside the runner: an operator's kill, the OOM killer, a shutdown. A
 * script makes its runner die by SIGABRT (V8's fatal errors), SIGSEGV, SIGTRAP, SIGILL or SIGBUS.
 */
const OUTSIDE_SIGNALS = new Set<string>(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP'])

/** What blame decided, for the logs and the metrics. */
export type BlameDecision =
  /** A runner crashed with these tenants in flight: each is a suspect, its next runs go to probation. */
  | { type: 'suspects'; runner: number; pid: number | undefined; tenants: string[] }
  /** A crash nobody is blamed for: nobody was in flight, an outside signal, or every suspect ran clean. */
  | { type: 'unattributed'; runner: number; pid: number | undefined; reason: 'nobody-in-flight' | 'outside-signal' | 'suspects-cleared'; signal?: string | null | undefined }
  /** A tenant crashed a runner alone: the crash, and every earlier one it was a suspect in, is held against it. */
  | { type: 'convicted'; tenantId: string; pid: number | undefined; crashes: number }
  /** A suspect is one no longer: it ran alone on probation without a crash, the culprit was found, or the crash came from outside. */
  | { type: 'cleared'; tenantId: string; reason: 'ran-clean' | 'culprit-found' | 'outside-signal' }
  /** A convicted tenant reached the quarantine's count of crashes. */
  | { type: 'quarantine'; tenantId: string; until: number }

export interface CrashBlameOptions {
  /** Counts the crashes held against each tenant and quarantines; its window bounds probation too. */
  quarantine: Quarantine
  /** A suspect left unresolved this long is forgotten. */
  suspicionMs: number
  onDecision(decision: BlameDecision): void
  now?: () => number
}

interface Case {
  runner: number
  pid: number | undefined
  at: number
  suspects: Set<string>
  /** The runner's exit was seen and was not an outside signal. */
  exited: boolean
}

/**
 * Who crashed a runner. A runner process dies too fast to say which run did it, so a crash with
 * several tenants in flight makes them suspects, not culprits: their next runs go to the
 * probation runner (ProbationLane), the prime suspect alone and the others together, until a
 * tenant crashes a runner, or not, on its own. Only a tenant that crashes a runner alone is
 * convicted, and then the shared crashes it was a suspect in are held against it too and its
 * fellow suspects are cleared; a suspect whose run there ends without a crash is cleared. A
 * runner ended by an outside signal (SIGKILL, SIGTERM: an operator, the OOM killer) implicates
 * nobody. Convicted crashes count toward the Quarantine, and a tenant with crashes held against
 * it stays on probation while they count.
 *
 * @example
 * const blame = new CrashBlame({ quarantine, suspicionMs: 60_000, onDecision: (d) => log(d) })
 * blame.crashed(0, pid, ['a', 'b']) // both suspects
 * blame.exited(pid, 'SIGABRT')      // not from outside: they stay suspects
 * blame.suspected('a')              // true: its runs go to probation
 */
export class CrashBlame {
  readonly #quarantine: Quarantine
  readonly #suspicionMs: number
  readonly #onDecision: (decision: BlameDecision) => void
  readonly #now: () => number
  /** Open cases by the crashed process's pid (or a counter when it had none). */
  readonly #cases = new Map<number | string, Case>()
  #anonymous = 0
  #settled: Array<() => void> = []
  readonly counts = { suspects: 0, convicted: 0, cleared: 0, unattributed: 0 }

  constructor(options: CrashBlameOptions) {
    if (!Number.isInteger(options.suspicionMs) || options.suspicionMs < 1) throw new RangeError('options.suspicionMs must be a positive integer')
    if (typeof options.onDecision !== 'function') throw new TypeError('options.onDecision must be a function')
    this.#quarantine = options.quarantine
    this.#suspicionMs = options.suspicionMs
    this.#onDecision = options.onDecision
    this.#now = options.now ?? Date.now
  }

  /**
   * A serving runner was lost with these tenants in flight (its exit comes later: `exited`),
   * listed by their oldest run in flight, oldest first: the first is the prime suspect.
   */
  crashed(runner: number, pid: number | undefined, tenants: readonly string[]): void {
    this.#forgetOld()
    if (tenants.length === 0) {
      this.#decide({ type: 'unattributed', runner, pid, reason: 'nobody-in-flight' })
      return
    }
    const key = pid ?? `anonymous-${this.#anonymous++}`
    this.#cases.set(key, { runner, pid, at: this.#now(), suspects: new Set(tenants), exited: false })
    this.#decide({ type: 'suspects', runner, pid, tenants: [...tenants] })
  }

  /** How the crashed process ended: an outside signal clears its suspects; alone in flight convicts. */
  exited(pid: number | undefined, signal: string | null): void {
    if (pid === undefined) return
    const crash = this.#cases.get(pid)
    // Known already (it printed a fatal error before it exited): its verdict is in.
    if (crash === undefined || crash.exited) return
    if (signal !== null && OUTSIDE_SIGNALS.has(signal)) {
      this.#cases.delete(pid)
      for (const tenantId of crash.suspects) if (!this.#inCase(tenantId)) this.#decide({ type: 'cleared', tenantId, reason: 'outside-signal' })
      this.#decide({ type: 'unattributed', runner: crash.runner, pid, reason: 'outside-signal', signal })
      this.#wakeSettled()
      return
    }
    crash.exited = true
    if (crash.suspects.size === 1) this.#convict([...crash.suspects][0] as string, pid)
    this.#wakeSettled()
  }

  #wakeSettled(): void {
    if (this.#settled.length === 0 || [...this.#cases.values()].some((crash) => !crash.exited)) return
    const waiting = this.#settled
    this.#settled = []
    for (const done of waiting) done()
  }

  /**
   * A worker thread died under the tenant's run while its process lived on. Alone on the
   * probation runner that convicts it; elsewhere other tenants' runs may have shared the thread,
   * so it is a suspect (a case with no exit to wait for).
   */
  threadCrashed(runner: number, tenantId: string, alone: boolean): void {
    const key = `thread-${this.#anonymous++}`
    this.#cases.set(key, { runner, pid: undefined, at: this.#now(), suspects: new Set([tenantId]), exited: true })
    if (alone) this.#convict(tenantId, key)
    else this.#decide({ type: 'suspects', runner, pid: undefined, tenants: [tenantId] })
  }

  /**
   * Resolves once every crash seen has its exit too (an outside signal clears, alone in flight
   * convicts), or after `maxWaitMs`: a run about to go onto the probation runner waits for this,
   * so a tenant convicted enough is refused rather than let crash the runner once more.
   */
  settled(maxWaitMs: number): Promise<void> {
    if (![...this.#cases.values()].some((crash) => !crash.exited)) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxWaitMs)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#settled.push(done)
    })
  }

  /** Whether the tenant's runs go to probation: a suspect, or crashes are held against it. */
  suspected(tenantId: string): boolean {
    return this.#inCase(tenantId) || this.#quarantine.crashesOf(tenantId) > 0
  }

  /**
   * Whether the tenant goes onto the probation runner only alone (ProbationLane): crashes are
   * held against it, or it is the prime suspect of an open crash, the one whose run in flight
   * there was the oldest (a bomb that took its time; a crash's tenants come oldest run first).
   * Its fellow suspects go in together, and are cleared together when they run clean.
   */
  mustBeAlone(tenantId: string): boolean {
    if (this.#quarantine.crashesOf(tenantId) > 0) return true
    for (const crash of this.#cases.values()) if (crash.suspects.values().next().value === tenantId) return true
    return false
  }

  /** The tenant ran on probation and its runner lived: it is no suspect of any crash. */
  ranClean(tenantId: string): void {
    let wasSuspect = false
    for (const [key, crash] of this.#cases) {
      if (!crash.suspects.delete(tenantId)) continue
      wasSuspect = true
      if (crash.suspects.size === 0) {
        this.#cases.delete(key)
        this.#decide({ type: 'unattributed', runner: crash.runner, pid: crash.pid, reason: 'suspects-cleared' })
      }
    }
    if (wasSuspect) this.#decide({ type: 'cleared', tenantId, reason: 'ran-clean' })
  }

  /** Whether an open case has the tenant among several suspects: a crash it did not have to itself. */
  shared(tenantId: string): boolean {
    for (const crash of this.#cases.values()) if (crash.suspects.has(tenantId) && crash.suspects.size > 1) return true
    return false
  }

  /** Tenants suspected of an open case now. */
  get suspects(): number {
    const tenants = new Set<string>()
    for (const crash of this.#cases.values()) for (const tenantId of crash.suspects) tenants.add(tenantId)
    return tenants.size
  }

  #convict(tenantId: string, key: number | string): void {
    const cleared = new Set<string>()
    let crashes = 0
    const quarantined: string[] = []
    for (const [caseKey, crash] of this.#cases) {
      if (!crash.suspects.has(tenantId) || (!crash.exited && caseKey !== key)) continue
      this.#cases.delete(caseKey)
      crashes++
      quarantined.push(...this.#quarantine.recordCrash([tenantId]))
      for (const other of crash.suspects) if (other !== tenantId) cleared.add(other)
    }
    this.#decide({ type: 'convicted', tenantId, pid: typeof key === 'number' ? key : undefined, crashes })
    for (const other of cleared) if (!this.#inCase(other)) this.#decide({ type: 'cleared', tenantId: other, reason: 'culprit-found' })
    for (const quarantinedId of new Set(quarantined)) this.#decide({ type: 'quarantine', tenantId: quarantinedId, until: this.#quarantine.until(quarantinedId) ?? this.#now() })
  }

  #inCase(tenantId: string): boolean {
    for (const crash of this.#cases.values()) if (crash.suspects.has(tenantId)) return true
    return false
  }

  #decide(decision: BlameDecision): void {
    if (decision.type === 'suspects') this.counts.suspects += decision.tenants.length
    else if (decision.type === 'convicted') this.counts.convicted++
    else if (decision.type === 'cleared') this.counts.cleared++
    else if (decision.type === 'unattributed') this.counts.unattributed++
    this.#onDecision(decision)
  }

  /** Cases nobody came back to resolve within `suspicionMs` are dropped, unattributed. */
  #forgetOld(): void {
    const now = this.#now()
    for (const [key, crash] of this.#cases) {
      if (now - crash.at < this.#suspicionMs) continue
      this.#cases.delete(key)
      this.#decide({ type: 'unattributed', runner: crash.runner, pid: crash.pid, reason: 'suspects-cleared' })
    }
  }
}
