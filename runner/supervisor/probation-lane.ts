interface Waiting {
  tenantId: string
  resolve(turn: boolean): void
}

export interface ProbationLaneOptions {
  /**
   * How long a tenant has the probation runner to itself while others wait; then the next waiting
   * tenant goes in beside it. A slow suspect (a long run, or a bomb that takes seconds to go off)
   * must not hold an innocent one's requests for long.
   */
  aloneMs?: number
  /**
   * Whether a tenant goes onto the probation runner only alone (CrashBlame.mustBeAlone: the
   * prime suspect of a crash, or a tenant with crashes held against it). Tenants for which this
   * is false go in together. Without it every tenant goes alone.
   */
  mustBeAlone?: (tenantId: string) => boolean
}

const DEFAULTS = { aloneMs: 50 }

/**
 * The probation runner's door. A tenant that must be alone goes in alone; the other suspects go
 * in together, as one group, and before it: a crash's lesser suspects are cleared in one turn
 * instead of one after another (each entering cold), and a group that crashes the probation
 * runner again is a new crash whose own prime suspect goes alone next, so blame still narrows
 * to one tenant. Every waiting run of a tenant let in goes in at once; the waiting go in when the
 * runs inside are all answered, or when every tenant inside has been there for `aloneMs` (a slow
 * suspect holds the door for `aloneMs` once, not once for each quick one let in beside it). The
 * decision waits for the end of the turn, so the runs a crash sends back together are seen
 * together. A crash of the probation runner with one tenant inside convicts it (CrashBlame); a
 * run answered without a crash clears its tenant.
 *
 * A waiting tenant that blame clears meanwhile (the culprit was found elsewhere) leaves the line
 * with `false` and runs on its own runner again.
 *
 * @example
 * if (await lane.turn('acme')) {
 *   try { await probationRunner.run(task) } finally { lane.done('acme') }
 * }
 */
export class ProbationLane {
  readonly #aloneMs: number
  readonly #mustBeAlone: (tenantId: string) => boolean
  /** Tenants inside: their runs in flight on the probation runner, and since when the latest went in. */
  readonly #inside = new Map<string, { running: number; since: number }>()
  /** Whether those inside went in as a group (none of them must be alone). */
  #group = false
  #waiting: Waiting[] = []
  #timer: NodeJS.Timeout | null = null
  #opening: NodeJS.Immediate | null = null
  /** Runs let onto the probation runner. */
  admitted = 0

  constructor(options: ProbationLaneOptions = {}) {
    const aloneMs = options.aloneMs ?? DEFAULTS.aloneMs
    if (!Number.isInteger(aloneMs) || aloneMs < 0) throw new RangeError('options.aloneMs must be a non-negative integer')
    if (options.mustBeAlone !== undefined && typeof options.mustBeAlone !== 'function') throw new TypeError('options.mustBeAlone must be a function')
    this.#aloneMs = aloneMs
    this.#mustBeAlone = options.mustBeAlone ?? (() => true)
  }

  /** Resolves true on the tenant's turn; false when `leave` took it out of the line first. */
  turn(tenantId: string): Promise<boolean> {
    if (this.#waiting.length === 0 && (this.#inside.has(tenantId) || (this.#group && this.#inside.size > 0 && !this.#mustBeAlone(tenantId)))) {
      this.#enter(tenantId, 1)
      return Promise.resolve(true)
    }
    const turn = new Promise<boolean>((resolve) => this.#waiting.push({ tenantId, resolve }))
    if (this.#inside.size === 0) this.#open()
    else this.#arm()
    return turn
  }

  /** Whether the tenant is inside with nobody beside it. */
  alone(tenantId: string): boolean {
    return this.#inside.size === 1 && this.#inside.has(tenantId)
  }

  /** One run of a tenant inside was answered. */
  done(tenantId: string): void {
    const inside = this.#inside.get(tenantId)
    if (inside === undefined || inside.running === 0) throw new Error(`done() for ${tenantId}, which is not inside`)
    inside.running--
    if (inside.running > 0) return
    this.#inside.delete(tenantId)
    if (this.#inside.size === 0) {
      this.#admitNext()
      return
    }
    // The clock ran from this tenant's entry. The ones still inside may have had their time alone
    // long ago (a slow suspect beside a quick one that just left): the next need not wait for it.
    this.#disarm()
    this.#arm()
  }

  /** The tenant needs no probation any more: its waiting runs go back to their own runner. */
  leave(tenantId: string): void {
    const staying: Waiting[] = []
    for (const waiting of this.#waiting) {
      if (waiting.tenantId === tenantId) waiting.resolve(false)
      else staying.push(waiting)
    }
    this.#waiting = staying
    if (staying.length === 0) this.#disarm()
  }

  get waiting(): number {
    return this.#waiting.length
  }

  #enter(tenantId: string, runs: number): void {
    const inside = this.#inside.get(tenantId)
    if (inside === undefined) this.#inside.set(tenantId, { running: runs, since: performance.now() })
    else inside.running += runs
    this.admitted += runs
  }

  /** At the end of this turn, the waiting go in (an empty lane: the door opens once). */
  #open(): void {
    if (this.#opening !== null) return
    this.#opening = setImmediate(() => {
      this.#opening = null
      if (this.#inside.size === 0) this.#admitNext()
    })
  }

  /**
   * The waiting that need not be alone go in together, with all of their waiting runs; when
   * there are none, the first waiting tenant goes in with its own.
   */
  #admitNext(): void {
    // Armed again below for whoever still waits, from the new entry.
    this.#disarm()
    const first = this.#waiting[0]
    if (first === undefined) return
    // Asked once per tenant, however many of its runs wait.
    const together = new Set([...new Set(this.#waiting.map((waiting) => waiting.tenantId))].filter((tenantId) => !this.#mustBeAlone(tenantId)))
    const group = together.size > 0
    const admitted: Waiting[] = []
    const staying: Waiting[] = []
    for (const waiting of this.#waiting) {
      const goesIn = group ? together.has(waiting.tenantId) : waiting.tenantId === first.tenantId
      ;(goesIn ? admitted : staying).push(waiting)
    }
    this.#waiting = staying
    if (this.#inside.size === 0) this.#group = group
    else this.#group &&= group
    for (const waiting of admitted) this.#enter(waiting.tenantId, 1)
    for (const waiting of admitted) waiting.resolve(true)
    this.#arm()
  }

  /** A lane with nobody waiting holds no timer (it would keep a closing process up for aloneMs). */
  #disarm(): void {
    if (this.#timer === null) return
    clearTimeout(this.#timer)
    this.#timer = null
  }

  /** While tenants wait, the one inside longest gets `aloneMs` to itself, then the next goes in beside it. */
  #arm(): void {
    if (this.#timer !== null || this.#waiting.length === 0) return
    let latest = 0
    for (const { since } of this.#inside.values()) latest = Math.max(latest, since)
    this.#timer = setTimeout(() => {
      this.#timer = null
      if (this.#inside.size === 0 || performance.now() - latest >= this.#aloneMs) this.#admitNext()
      else this.#arm()
    }, Math.max(0, latest + this.#aloneMs - performance.now()))
  }
}
