export interface AdmissionOptions {
  /** Runs of one tenant in flight at once. */
  perTenantConcurrency?: number
  /** Runs of one tenant waiting for a slot; past it: TENANT_BUSY (429). */
  perTenantQueue?: number
  /** Runs in flight across all tenants (what the runners can take at once). */
  globalConcurrency?: number
  /** Runs waiting across all tenants; past it: OVERLOADED (503). */
  globalQueue?: number
}

const DEFAULTS = { perTenantConcurrency: 64, perTenantQueue: 256, globalConcurrency: 512, globalQueue: 4096 }

export type Admission = 'started' | 'queued' | 'TENANT_BUSY' | 'OVERLOADED'

/** A run waiting for a slot; `cancel()` when its client went away. */
export interface Ticket {
  cancel(): void
}

interface Waiting {
  start: () => void
  cancelled: boolean
}

interface Lane {
  running: number
  queue: Waiting[]
}

export interface AdmissionStats {
  running: number
  queued: number
  tenants: number
}

/**
 * Admission control in front of the runners: bounded concurrency and bounded queues, per tenant
 * and overall, so excess is refused at once (never an unbounded queue), and fair scheduling: a
 * freed slot goes to the next tenant in round-robin order, not to the longest queue, so one
 * tenant's flood cannot starve another.
 *
 * @example
 * const admission = new AdmissionController({ perTenantConcurrency: 8 })
 * const verdict = admission.admit('acme', () => run().finally(() => admission.release('acme')))
 */
export class AdmissionController {
  readonly #perTenantConcurrency: number
  readonly #perTenantQueue: number
  readonly #globalConcurrency: number
  readonly #globalQueue: number
  readonly #lanes = new Map<string, Lane>()
  /** Tenants with runs waiting, in round-robin order (a Set keeps insertion order). */
  readonly #ready = new Set<string>()
  #running = 0
  #queued = 0

  constructor(options: AdmissionOptions = {}) {
    for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      const value = options[key] ?? DEFAULTS[key]
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${key} must be an integer`)
      if (value < (key.endsWith('Queue') ? 0 : 1)) throw new RangeError(`options.${key} is out of range`)
    }
    this.#perTenantConcurrency = options.perTenantConcurrency ?? DEFAULTS.perTenantConcurrency
    this.#perTenantQueue = options.perTenantQueue ?? DEFAULTS.perTenantQueue
    this.#globalConcurrency = options.globalConcurrency ?? DEFAULTS.globalConcurrency
    this.#globalQueue = options.globalQueue ?? DEFAULTS.globalQueue
  }

  get stats(): AdmissionStats {
    return { running: this.#running, queued: this.#queued, tenants: this.#lanes.size }
  }

  /** Whether nothing runs or waits (graceful shutdown waits for this). */
  get idle(): boolean {
    return this.#running === 0 && this.#queued === 0
  }

  /**
   * Starts `start` now, queues it, or refuses. A started or queued run must call
   * `release(tenantId)` exactly once when it finishes.
   */
  admit(tenantId: string, start: () => void): { verdict: Admission; ticket: Ticket | null } {
    const lane = this.#lane(tenantId)
    if (lane.queue.length === 0 && lane.running < this.#perTenantConcurrency && this.#running < this.#globalConcurrency) {
      lane.running++
      this.#running++
      start()
      return { verdict: 'started', ticket: null }
    }
    // Held back by its own cap (or behind its own queue): the tenant's bound answers first.
    const tenantLimited = lane.queue.length > 0 || lane.running >= this.#perTenantConcurrency
    if (tenantLimited && lane.queue.length >= this.#perTenantQueue) return { verdict: 'TENANT_BUSY', ticket: null }
    if (this.#queued >= this.#globalQueue) return { verdict: 'OVERLOADED', ticket: null }
    const waiting: Waiting = { start, cancelled: false }
    lane.queue.push(waiting)
    this.#queued++
    this.#ready.add(tenantId)
    return {
      verdict: 'queued',
      ticket: {
        cancel: () => {
          if (waiting.cancelled) return
          const index = lane.queue.indexOf(waiting)
          if (index === -1) return
          waiting.cancelled = true
          lane.queue.splice(index, 1)
          this.#queued--
          if (lane.queue.length === 0) this.#ready.delete(tenantId)
          this.#forget(tenantId, lane)
        },
      },
    }
  }

  release(tenantId: string): void {
    const lane = this.#lanes.get(tenantId)
    if (lane === undefined || lane.running === 0) throw new Error(`release without a running run for tenant ${tenantId}`)
    lane.running--
    this.#running--
    this.#drain()
    this.#forget(tenantId, lane)
  }

  #drain(): void {
    let scanned = 0
    while (this.#running < this.#globalConcurrency && this.#ready.size > 0 && scanned < this.#ready.size) {
      const tenantId = this.#ready.values().next().value as string
      const lane = this.#lanes.get(tenantId) as Lane
      // Rotate: this tenant goes to the back of the line whatever happens now.
      this.#ready.delete(tenantId)
      if (lane.running >= this.#perTenantConcurrency) {
        this.#ready.add(tenantId)
        scanned++
        continue
      }
      scanned = 0
      const next = lane.queue.shift() as Waiting
      this.#queued--
      if (lane.queue.length > 0) this.#ready.add(tenantId)
      lane.running++
      this.#running++
      next.start()
    }
  }

  #lane(tenantId: string): Lane {
    let lane = this.#lanes.get(tenantId)
    if (lane === undefined) {
      lane = { running: 0, queue: [] }
      this.#lanes.set(tenantId, lane)
    }
    return lane
  }

  #forget(tenantId: string, lane: Lane): void {
    if (lane.running === 0 && lane.queue.length === 0) this.#lanes.delete(tenantId)
  }
}
