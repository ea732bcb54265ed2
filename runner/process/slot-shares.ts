/** One tenant's runs on a worker thread and waiting for it. */
interface Holding {
  onThread: number
  waiting: number
}

/**
 * A worker thread's run slots, shared fairly across its tenants (issue 20, fair shares).
 *
 * A run holds its slot from the moment it is sent to the thread until it is answered, whether it
 * is executing or waiting (a timer, a host call, its turn in its isolate). A tenant spinning its
 * CPU limit with many runs in flight (they queue in its one isolate, on isolated-vm's pool, not on
 * the worker thread) used to hold every slot for as long as its runs lasted (up to their wall
 * limit), and a co-located tenant's run waited in the fair queue for all that time although the
 * thread itself was idle (measured: a hello run beside 20 spinning runs, p50 80-200 ms, up to
 * 500 ms, against 1 ms alone; with more slots, 1.4 ms).
 *
 * So slots are shared max-min fairly: each tenant with runs on the thread or waiting for it is
 * entitled to `slots / tenants` of them (at least one). A run whose tenant holds less than its
 * share starts at once even when every slot is taken, borrowing a slot that tenants over their
 * share hold; they get their slots back as their runs end and the tenants under their share leave.
 * It is work-conserving: a tenant alone on its thread still uses every slot. Borrowing stops at
 * `2 * slots` runs on the thread, so the thread's inbox stays bounded; past it runs wait in the
 * fair queue, round-robin, as before.
 *
 * @example
 * const shares = new SlotShares(16)
 * if (shares.mayStart(tenantId, queueEmpty)) shares.start(tenantId)
 * else shares.wait(tenantId)
 * // ... the run was answered:
 * shares.leave(tenantId)
 */
export class SlotShares {
  readonly slots: number
  /** Tenants with runs on the thread or waiting for it. */
  readonly #tenants = new Map<string, Holding>()
  #onThread = 0

  constructor(slots: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError('slots must be a positive integer')
    this.slots = slots
  }

  /** Runs on the thread (sent, not answered); at most `2 * slots`. */
  get onThread(): number {
    return this.#onThread
  }

  /** Whether a slot is free: the next waiting run (round-robin) may start. */
  get free(): boolean {
    return this.#onThread < this.slots
  }

  /** A tenant's fair share of the slots now: the slots over the tenants using the thread, at least one. */
  get share(): number {
    return Math.max(1, Math.floor(this.slots / Math.max(1, this.#tenants.size)))
  }

  /**
   * Whether a new run of `tenant` may start at once: a slot is free and nobody waits for one, or
   * the tenant has nothing waiting (its runs stay in order) and holds less than its share.
   */
  mayStart(tenant: string, queueEmpty: boolean): boolean {
    if (this.free && queueEmpty) return true
    const holding = this.#tenants.get(tenant)
    return (holding === undefined || holding.waiting === 0) && this.#under(tenant, holding)
  }

  /** Runs of `tenant` on the thread. */
  onThreadOf(tenant: string): number {
    return this.#tenants.get(tenant)?.onThread ?? 0
  }

  /** Runs of `tenant` on the thread or waiting for a slot on it. */
  runsOf(tenant: string): number {
    const holding = this.#tenants.get(tenant)
    return holding === undefined ? 0 : holding.onThread + holding.waiting
  }

  /** Tenants with runs on the thread or waiting for it. */
  tenants(): IterableIterator<string> {
    return this.#tenants.keys()
  }

  /** Whether `tenant`'s next waiting run may borrow a slot (see borrowers). */
  mayBorrow(tenant: string): boolean {
    return this.#under(tenant, this.#tenants.get(tenant))
  }

  /** A run of `tenant` is sent to the thread (`fromQueue`: it was waiting). */
  start(tenant: string, fromQueue = false): void {
    const holding = this.#holding(tenant)
    if (fromQueue) holding.waiting--
    holding.onThread++
    this.#onThread++
  }

  /** A run of `tenant` waits for a slot. */
  wait(tenant: string): void {
    this.#holding(tenant).waiting++
  }

  /** A waiting run of `tenant` was taken away before it started (it runs on another thread). */
  withdraw(tenant: string): void {
    const holding = this.#tenants.get(tenant)
    if (holding === undefined) return
    holding.waiting--
    this.#forgetIdle(tenant, holding)
  }

  /** A run of `tenant` left the thread: answered, or lost with it. */
  leave(tenant: string): void {
    this.#onThread--
    const holding = this.#tenants.get(tenant)
    if (holding === undefined) return
    holding.onThread--
    this.#forgetIdle(tenant, holding)
  }

  /** Tenants with runs waiting that hold less than their share: their runs may borrow a slot now. */
  borrowers(): string[] {
    if (this.#onThread >= 2 * this.slots) return []
    const share = this.share
    const lanes: string[] = []
    for (const [tenant, holding] of this.#tenants) if (holding.waiting > 0 && holding.onThread < share) lanes.push(tenant)
    return lanes
  }

  #under(tenant: string, holding: Holding | undefined): boolean {
    if (this.#onThread >= 2 * this.slots) return false
    // A tenant new to the thread counts itself among those sharing it.
    const tenants = this.#tenants.size + (holding === undefined ? 1 : 0)
    const share = Math.max(1, Math.floor(this.slots / tenants))
    return (holding?.onThread ?? 0) < share
  }

  #holding(tenant: string): Holding {
    let holding = this.#tenants.get(tenant)
    if (holding === undefined) {
      holding = { onThread: 0, waiting: 0 }
      this.#tenants.set(tenant, holding)
    }
    return holding
  }

  #forgetIdle(tenant: string, holding: Holding): void {
    if (holding.onThread <= 0 && holding.waiting <= 0) this.#tenants.delete(tenant)
  }
}
