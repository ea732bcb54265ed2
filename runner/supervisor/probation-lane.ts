interface Waiting {
  tenantId: string
  resolve(turn: boolean): void
}

/**
 * The probation runner's door: one tenant at a time. Every run of the tenant whose turn it is
 * goes in at once; other tenants wait in arrival order, and the turn passes when the holder's
 * runs are all answered and someone waits. So a crash of the probation runner has exactly one
 * tenant in flight, and CrashBlame can convict it or clear it.
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
  #holder: string | null = null
  #running = 0
  #waiting: Waiting[] = []
  /** Runs let onto the probation runner. */
  admitted = 0

  /** Resolves true on the tenant's turn; false when `leave` took it out of the line first. */
  turn(tenantId: string): Promise<boolean> {
    if (this.#holder === null || (this.#holder === tenantId && this.#waiting.length === 0)) {
      this.#holder = tenantId
      this.#running++
      this.admitted++
      return Promise.resolve(true)
    }
    return new Promise((resolve) => this.#waiting.push({ tenantId, resolve }))
  }

  /** One run of the holder was answered. */
  done(tenantId: string): void {
    if (tenantId !== this.#holder || this.#running === 0) throw new Error(`done() for ${tenantId}, which does not hold the turn`)
    this.#running--
    if (this.#running === 0) this.#next()
  }

  /** The tenant needs no probation any more: its waiting runs go back to their own runner. */
  leave(tenantId: string): void {
    const staying: Waiting[] = []
    for (const waiting of this.#waiting) {
      if (waiting.tenantId === tenantId) waiting.resolve(false)
      else staying.push(waiting)
    }
    this.#waiting = staying
  }

  get waiting(): number {
    return this.#waiting.length
  }

  #next(): void {
    this.#holder = null
    const first = this.#waiting[0]
    if (first === undefined) return
    // The next tenant, with all of its runs that are waiting.
    this.#holder = first.tenantId
    const staying: Waiting[] = []
    for (const waiting of this.#waiting) {
      if (waiting.tenantId !== first.tenantId) {
        staying.push(waiting)
        continue
      }
      this.#running++
      this.admitted++
      waiting.resolve(true)
    }
    this.#waiting = staying
  }
}
