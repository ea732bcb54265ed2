import { performance } from 'node:perf_hooks'
import type { CpuShares } from './cpu-shares.js'
import type { SlotShares } from './slot-shares.js'

/** How often the CPU records of tenants gone quiet are swept away (ms). */
const CPU_SWEEP_MS = 10_000
/**
 * How long after its last answer a tenant under the cap still counts as using the thread (ms):
 * its client's next request is on its way. Whether a tenant is held is asked when the thread is
 * filled, right after answers; a tenant whose runs were all answered in that batch would
 * otherwise look gone at the one moment that decides.
 */
const PRESENT_MS = 10

/**
 * One worker thread's door for the CPU share (cpu-shares.ts): whether a tenant may start a run on
 * the thread now, and a timer that fills the thread again when the first tenant held back will
 * be under its share. The clock is read once per batch of answers, not per run, and again only
 * for a tenant that looks held.
 *
 * @example
 * const gate = new CpuGate(cpu, shares, () => shard.fill())
 * if (!gate.held(tenantId)) start()
 * gate.answered(performance.now())   // once per batch of answers
 * gate.charge(tenantId, answer.cpuMs)
 */
export class CpuGate {
  readonly #cpu: CpuShares
  readonly #shares: SlotShares
  readonly #fill: () => void
  #wake: NodeJS.Timeout | null = null
  #wakeAt = 0
  /** The clock (ms) at the last answers or wake-up. */
  #now = 0
  #sweptAt = 0
  /** Tenants answered on this thread lately, by when (the clock of their answers). */
  readonly #answered = new Map<string, number>()

  constructor(cpu: CpuShares, shares: SlotShares, fill: () => void) {
    this.#cpu = cpu
    this.#shares = shares
    this.#fill = fill
  }

  /** Whether `tenant` may start no run now for its CPU; if so, the thread is filled again when its rate will have decayed to its share. */
  held(tenant: string): boolean {
    if (!this.#heldAt(tenant, this.#now)) return false
    // The clock read at the last answers may be stale, and decay only lowers a rate: look again now.
    this.#now = performance.now()
    if (!this.#heldAt(tenant, this.#now)) return false
    this.#wakeIn(this.#cpu.msUntilUnder(tenant, this.#shares.onThreadOf(tenant), this.#now))
    return true
  }

  /** Held beside a tenant under the cap on the thread now (cpu-shares.ts), or answered on it within PRESENT_MS. */
  #heldAt(tenant: string, now: number): boolean {
    // Most tenants are under the cap: one lookup.
    if (!this.#cpu.over(tenant, this.#shares.onThreadOf(tenant), now)) return false
    if (this.#cpu.held(tenant, this.#shares, now)) return true
    this.#forgetGone(now)
    for (const other of this.#answered.keys()) if (other !== tenant && !this.#cpu.over(other, this.#shares.onThreadOf(other), now)) return true
    return false
  }

  /** Drops the tenants answered longer than PRESENT_MS ago. */
  #forgetGone(now: number): void {
    for (const [tenant, at] of this.#answered) if (now - at > PRESENT_MS) this.#answered.delete(tenant)
  }

  /** `held` as a function value, for the fair queue to pass over held lanes. */
  readonly isHeld = (tenant: string): boolean => this.held(tenant)

  /** A batch of answers arrived at `now`. */
  answered(now: number): void {
    this.#now = now
    if (now - this.#sweptAt > CPU_SWEEP_MS) {
      this.#cpu.sweep(now)
      this.#forgetGone(now)
      this.#sweptAt = now
    }
  }

  /** A run of `tenant` was charged `cpuMs` (in the batch `answered` announced). */
  charge(tenant: string, cpuMs: number): void {
    this.#cpu.charge(tenant, cpuMs, this.#now)
    this.#answered.set(tenant, this.#now)
  }

  close(): void {
    if (this.#wake !== null) clearTimeout(this.#wake)
    this.#wake = null
  }

  /** Fills the thread again in `ms` (Infinity: the runs on the thread must be answered first, which fills it). */
  #wakeIn(ms: number): void {
    if (ms === Number.POSITIVE_INFINITY) return
    const at = this.#now + ms
    if (this.#wake !== null) {
      if (this.#wakeAt <= at) return
      clearTimeout(this.#wake)
    }
    this.#wakeAt = at
    this.#wake = setTimeout(this.#onWake, Math.max(1, Math.ceil(ms))).unref()
  }

  readonly #onWake = (): void => {
    this.#wake = null
    this.#now = performance.now()
    this.#fill()
  }
}
