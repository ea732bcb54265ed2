export interface QuarantineOptions {
  /** Crashes within `windowMs` that quarantine a tenant. */
  crashes?: number
  windowMs?: number
  /** How long a quarantined tenant's runs are refused. */
  coolDownMs?: number
  /** The clock; tests pass a fake one. */
  now?: () => number
}

export const QUARANTINE_DEFAULTS = {
  crashes: 3,
  windowMs: 60_000,
  coolDownMs: 5 * 60_000,
  now: Date.now,
} satisfies Required<QuarantineOptions>

/**
 * Which tenants keep crashing runners: `crashes` held against a tenant within `windowMs`
 * quarantine it for `coolDownMs`. What is held against whom is CrashBlame's decision (a crash
 * counts against a tenant only once it is shown to crash a runner alone); this only counts.
 *
 * @example
 * const quarantine = new Quarantine({ crashes: 3, windowMs: 60_000, coolDownMs: 300_000 })
 * quarantine.recordCrash(['tenant-a'])
 * quarantine.until('tenant-a') // null, or the time its cool-down ends
 */
export class Quarantine {
  readonly #crashes: number
  readonly #windowMs: number
  readonly #coolDownMs: number
  readonly #now: () => number
  /** Crash times per tenant, oldest first, only those inside the window. */
  readonly #history = new Map<string, number[]>()
  readonly #until = new Map<string, number>()

  constructor(options: QuarantineOptions = {}) {
    this.#crashes = positiveInteger(options.crashes ?? QUARANTINE_DEFAULTS.crashes, 'crashes')
    this.#windowMs = positiveInteger(options.windowMs ?? QUARANTINE_DEFAULTS.windowMs, 'windowMs')
    this.#coolDownMs = positiveInteger(options.coolDownMs ?? QUARANTINE_DEFAULTS.coolDownMs, 'coolDownMs')
    this.#now = options.now ?? QUARANTINE_DEFAULTS.now
    if (typeof this.#now !== 'function') throw new TypeError('options.now must be a function')
  }

  /** Holds one runner crash against these tenants; answers those it has just quarantined. */
  recordCrash(tenants: Iterable<string>): string[] {
    const now = this.#now()
    const quarantined: string[] = []
    for (const tenant of tenants) {
      const times = (this.#history.get(tenant) ?? []).filter((time) => now - time < this.#windowMs)
      times.push(now)
      if (times.length >= this.#crashes) {
        this.#history.delete(tenant)
        this.#until.set(tenant, now + this.#coolDownMs)
        quarantined.push(tenant)
      } else {
        this.#history.set(tenant, times)
      }
    }
    this.#forgetOld(now)
    return quarantined
  }

  /** When the tenant's quarantine ends (epoch ms), or null when it is not quarantined. */
  until(tenant: string): number | null {
    const until = this.#until.get(tenant)
    if (until === undefined) return null
    if (this.#now() < until) return until
    this.#until.delete(tenant)
    return null
  }

  /** Crashes held against the tenant within the window now. */
  crashesOf(tenant: string): number {
    const times = this.#history.get(tenant)
    if (times === undefined) return 0
    const now = this.#now()
    return times.filter((time) => now - time < this.#windowMs).length
  }

  /** Tenants quarantined now. */
  get size(): number {
    const now = this.#now()
    let count = 0
    for (const until of this.#until.values()) if (now < until) count++
    return count
  }

  /** Keeps the maps bounded by recent crashes, however many tenants ever crashed. */
  #forgetOld(now: number): void {
    for (const [tenant, times] of this.#history) {
      if (now - (times[times.length - 1] ?? 0) >= this.#windowMs) this.#history.delete(tenant)
    }
    for (const [tenant, until] of this.#until) if (now >= until) this.#until.delete(tenant)
  }
}

function positiveInteger(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${key} must be an integer`)
  if (value < 1) throw new RangeError(`options.${key} must be a positive integer`)
  return value
}
