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
}

const DEFAULTS = { aloneMs: 50 }

/**
 * The probation runner's door: one tenant at a time, as far as it can. Every run of the tenant
 * whose turn it is goes in at once; other tenants wait in arrival order and go in when the runs
 * inside are all answered, or when the tenant inside has had the runner alone for `aloneMs`. A
 * crash of the probation runner with one tenant inside convicts it (CrashBlame); a run answered
 * without a crash clears its tenant.
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
  /** Tenants inside: their runs in flight on the probation runner, and since when the latest went in. */
  readonly #inside = new Map<string, { running: number; since: number }>()
  #waiting: Waiting[] = []
  #timer: NodeJS.Timeout | null = null
  /** Runs let onto the probation runner. */
  admitted = 0

  constructor(options: ProbationLaneOptions = {}) {
    const aloneMs = options.aloneMs ?? DEFAULTS.aloneMs
    if (!Number.isInteger(aloneMs) || aloneMs < 0) throw new RangeError('options.aloneMs must be a non-negative integer')
    this.#aloneMs = aloneMs
  }

  /** Resolves true on the tenant's turn; false when `leave` took it out of the line first. */
  turn(tenantId: string): Promise<boolean> {
    const inside = this.#inside.get(tenantId)
    if ((inside !== undefined && this.#waiting.length === 0) || this.#inside.size === 0) {
      this.#enter(tenantId, 1)
      return Promise.resolve(true)
    }
    const turn = new Promise<boolean>((resolve) => this.#waiting.push({ tenantId, resolve }))
    this.#arm()
    return turn
  }

  /** One run of a tenant inside was answered. */
  done(tenantId: string): void {
    const inside = this.#inside.get(tenantId)
    if (inside === undefined || inside.running === 0) throw new Error(`done() for ${tenantId}, which is not inside`)
    inside.running--
    if (inside.running > 0) return
    this.#inside.delete(tenantId)
    if (this.#inside.size === 0) this.#admitNext()
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

  /** The next waiting tenant goes in, with all of its runs that are waiting. */
  #admitNext(): void {
    // Armed again below for whoever still waits, from the new tenant's entry.
    this.#disarm()
    const first = this.#waiting[0]
    if (first === undefined) return
    const admitted: Waiting[] = []
    const staying: Waiting[] = []
    for (const waiting of this.#waiting) (waiting.tenantId === first.tenantId ? admitted : staying).push(waiting)
    this.#waiting = staying
    this.#enter(first.tenantId, admitted.length)
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
