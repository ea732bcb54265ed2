import type { SlotShares } from './slot-shares.js'

/** One tenant's CPU. */
interface TenantCpu {
  /** CPU per wall time (1 is one core), decayed to `at`. */
  rate: number
  /** When `rate` was last brought up to date (ms, the caller's clock). */
  at: number
  /** CPU a run of the tenant is charged, on average lately (ms): what each of its runs in flight will add. */
  perRunMs: number
}

/** How fast a tenant's average CPU per run follows its latest runs. */
const PER_RUN_WEIGHT = 0.25
/** Below this share of the cap a tenant's past CPU no longer matters: its record goes. */
const FORGOTTEN = 0.01

/**
 * Each tenant's CPU rate in a runner process's pool (issue 20, item 4): CPU charged per wall time,
 * exponentially decayed with time constant `tauMs` (a window of about that long), so a tenant
 * keeping one core busy has rate 1 and one using a tenth of it 0.1.
 *
 * A tenant's runs execute in its one isolate on isolated-vm's pool, not on the worker thread, so a
 * tenant spinning its CPU limit run after run keeps a core busy while the thread's run slots are
 * free, and a co-located tenant's runs wait for CPU. The worker shard holds a tenant over its cap
 * back while other tenants use the thread (worker-shard.ts). Over the cap means the rate it will
 * have once its runs already on the thread are charged too, each at its average CPU per run:
 * a tenant released the moment its rate decayed to the cap would otherwise send every waiting run
 * at once and spin through all of them before the first is charged. One instance serves all of a
 * pool's threads: a tenant whose runs move to another thread (a held thread's, or a spill) brings
 * its rate along.
 *
 * Times are the caller's clock in milliseconds (`performance.now()`); nothing here reads it.
 *
 * @example
 * const cpu = new CpuShares(0.5)
 * // each run's answer:
 * cpu.charge(tenantId, result.metrics.cpuMs, performance.now())
 * // before a run of the tenant starts (slots: the thread's SlotShares):
 * if (cpu.held(tenantId, slots, now)) {
 *   // it waits; look again in cpu.msUntilUnder(tenantId, slots.onThreadOf(tenantId), now) ms
 * }
 */
export class CpuShares {
  /** The rate above which a tenant is held back while others use the thread (1 is one core). */
  readonly cap: number
  readonly tauMs: number
  readonly #tenants = new Map<string, TenantCpu>()

  constructor(cap: number, tauMs = 200) {
    if (typeof cap !== 'number' || !(cap > 0 && cap <= 1)) throw new RangeError('cap must be a number above 0 and at most 1')
    if (typeof tauMs !== 'number' || !(tauMs > 0 && Number.isFinite(tauMs))) throw new RangeError('tauMs must be a positive number')
    this.cap = cap
    this.tauMs = tauMs
  }

  /** Tenants with a CPU record (charged lately). */
  get size(): number {
    return this.#tenants.size
  }

  /** A run of `tenant` was answered at `now`, charged `cpuMs`. */
  charge(tenant: string, cpuMs: number, now: number): void {
    const cpu = this.#tenants.get(tenant)
    if (cpu === undefined) {
      this.#tenants.set(tenant, { rate: cpuMs / this.tauMs, at: now, perRunMs: cpuMs })
      return
    }
    cpu.rate = this.#decayed(cpu, now) + cpuMs / this.tauMs
    // Shards charge with their own reading of the clock: a slightly older one must not rewind it.
    if (now > cpu.at) cpu.at = now
    cpu.perRunMs += (cpuMs - cpu.perRunMs) * PER_RUN_WEIGHT
  }

  /** `tenant`'s CPU rate at `now` (1 is one core). */
  rate(tenant: string, now: number): number {
    const cpu = this.#tenants.get(tenant)
    return cpu === undefined ? 0 : this.#decayed(cpu, now)
  }

  /** Whether `tenant` is over the cap at `now`, counting its `onThread` runs in flight at its average CPU per run. */
  over(tenant: string, onThread: number, now: number): boolean {
    const cpu = this.#tenants.get(tenant)
    if (cpu === undefined) return false
    const inFlight = (onThread * cpu.perRunMs) / this.tauMs
    // Decay only lowers a rate: most tenants are under the cap without reading the exponential.
    if (cpu.rate + inFlight <= this.cap) return false
    return this.#decayed(cpu, now) + inFlight > this.cap
  }

  /**
   * Whether `tenant` may start no run at `now`: it is over the cap while a tenant under the cap has
   * runs on the thread or waiting for it (`slots` says who does). Alone on the thread, or beside
   * tenants over the cap too, it is not held: the bound takes no CPU that nobody else asks for.
   */
  held(tenant: string, slots: SlotShares, now: number): boolean {
    if (!this.over(tenant, slots.onThreadOf(tenant), now)) return false
    for (const other of slots.tenants()) if (other !== tenant && !this.over(other, slots.onThreadOf(other), now)) return true
    return false
  }

  /**
   * How long from `now` until `tenant` is under the cap (0 if it is), by decay alone: with its
   * `onThread` runs in flight still to be charged. Infinity when those alone put it over the cap:
   * only their answers change it.
   */
  msUntilUnder(tenant: string, onThread: number, now: number): number {
    const cpu = this.#tenants.get(tenant)
    if (cpu === undefined) return 0
    const room = this.cap - (onThread * cpu.perRunMs) / this.tauMs
    if (room <= 0) return Number.POSITIVE_INFINITY
    const rate = this.#decayed(cpu, now)
    return rate <= room ? 0 : this.tauMs * Math.log(rate / room)
  }

  /** Forgets the tenants whose CPU has decayed to almost nothing at `now` (a thread sees many tenants come and go). */
  sweep(now: number): void {
    for (const [tenant, cpu] of this.#tenants) if (this.#decayed(cpu, now) < this.cap * FORGOTTEN) this.#tenants.delete(tenant)
  }

  #decayed(cpu: TenantCpu, now: number): number {
    return now <= cpu.at ? cpu.rate : cpu.rate * Math.exp((cpu.at - now) / this.tauMs)
  }
}
