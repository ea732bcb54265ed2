import { performance } from 'node:perf_hooks'
import { RoundRobin } from '../runner/index.js'

export interface AdmissionOptions {
  /** Runs of one tenant in flight at once. */
  perTenantConcurrency?: number
  /**
   * Runs of one tenant in flight at once while other tenants have runs in flight or waiting too
   * (at most perTenantConcurrency). A tenant alone may use perTenantConcurrency.
   */
  contendedConcurrency?: number
  /**
   * Runs of one tenant waiting for a slot, at most: a bound on memory, past it TENANT_BUSY (429).
   * What sheds a tenant's excess is its runs' wait (queueTargetMs), not this length.
   */
  perTenantQueue?: number
  /**
   * The queueing delay a tenant's runs may settle at (CoDel's target): when the runs it dequeues
   * have waited longer than this interval after interval (an interval is the target or 100 ms,
   * whichever is longer) and its queue grew in each of several in a row, its new runs are refused with TENANT_BUSY (429) and a Retry-After
   * of the wait, until a run waits less than the target again.
   */
  queueTargetMs?: number
  /** The clock waits are measured with (ms); tests pass a fake one. */
  now?: () => number
  /** Runs in flight across all tenants (what the runners can take at once). */
  globalConcurrency?: number
  /** Runs waiting across all tenants; past it: OVERLOADED (503). */
  globalQueue?: number
  /**
   * The operator's cap on one tenant's runs in flight (its quota), or undefined for none: the
   * tenant gets the smaller of it and the caps above.
   */
  tenantConcurrency?: (tenantId: string) => number | undefined
}

/**
 * How long the tenants stay contended after another tenant was last seen active: a quiet
 * tenant's next request usually comes right after its last one ended, and a flood that grew back
 * to full depth in that gap would be ahead of it again.
 */
const CONTENTION_LINGER_MS = 1000

const DEFAULTS = { perTenantConcurrency: 64, contendedConcurrency: 16, perTenantQueue: 4096, globalConcurrency: 512, globalQueue: 4096, queueTargetMs: 100 }

/** CoDel's interval: how long waits must stay over the target before a tenant is shed. */
const MIN_INTERVAL_MS = 100
/**
 * Intervals in a row, waits over the target, in which the queue grew: the sign the runners do not
 * keep up. One or two are a step, not a trend: 1,000 connections opening at once, or clients
 * whose SYN was dropped from a full listen backlog coming back a second later.
 */
const GROWING_INTERVALS = 5

export type Admission = 'started' | 'queued' | 'TENANT_BUSY' | 'OVERLOADED'

/** A run waiting for a slot; `cancel()` when its client went away. */
export interface Ticket {
  cancel(): void
}

interface Waiting {
  start: () => void
  cancelled: boolean
  /** When it started waiting (options.now). */
  since: number
}

interface Lane {
  running: number
  queue: Waiting[]
  /** When the dequeued runs' waits went over the target; 0 while under it. */
  overSince: number
  /** The queue's length then: a queue that grows over an interval is one the runners do not keep up with. */
  queueAtOver: number
  /** Intervals in a row that ended with waits over the target and a longer queue. */
  growing: number
  /** Refusing new runs that would queue (429), until a run waits less than the target. */
  shedding: boolean
  /** The wait of the run dequeued last (ms): what Retry-After tells a refused client. */
  lastWaitMs: number
}

export interface AdmissionStats {
  running: number
  queued: number
  tenants: number
}

/**
 * Admission control in front of the runners: bounded concurrency per tenant and overall, fair
 * scheduling (a freed slot goes to the next tenant in round-robin order, not to the longest
 * queue, so one tenant's flood cannot starve another), and a tenant's excess shed by how long its
 * runs wait, CoDel-style, not by how many wait.
 *
 * Shedding by queueing delay: each run's wait is measured when it leaves the queue. A tenant
 * whose runs have waited past `queueTargetMs` for a whole interval is a candidate; it is shed
 * (new runs that would queue answer 429 with Retry-After) only if its queue also grew over
 * several such intervals in a row. HTTP clients hold a fixed number of connections and send the next request when the
 * last is answered, so a tenant with 1,000 connections makes a standing queue of about 1,000
 * runs that the runners serve at full speed: refusing some would not lower the load (the client
 * asks again at once), only turn answers into errors. A queue that keeps growing is arrivals
 * outpacing the runners: that one is shed, until a run waits less than the target again. Queue
 * lengths stay bounded, as a memory bound (perTenantQueue, 429; globalQueue, 503).
 *
 * How many runs a tenant may have in flight depends on whether it is alone. Every run in flight
 * is work queued ahead of another tenant's run in the runners' shared stages (the socket, the
 * runner's event loop, the cores), so while other tenants are active a tenant gets
 * `contendedConcurrency`; alone, it gets the deeper `perTenantConcurrency`, which batches
 * better (measured on 2 cores, hello at 100 connections: 16 in flight 3,650 req/s, 64 in
 * flight 5,070; a quiet tenant's p99 beside a 500-connection flood: 1.7x its p99 alone at 16,
 * 3.3x at 64).
 *
 * @example
 * const admission = new AdmissionController({ perTenantConcurrency: 8 })
 * const verdict = admission.admit('acme', () => run().finally(() => admission.release('acme')))
 */
export class AdmissionController {
  readonly #perTenantConcurrency: number
  readonly #contendedConcurrency: number
  readonly #perTenantQueue: number
  readonly #globalConcurrency: number
  readonly #globalQueue: number
  readonly #targetMs: number
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #tenantConcurrency: ((tenantId: string) => number | undefined) | undefined
  readonly #lanes = new Map<string, Lane>()
  /** Tenants with runs waiting, in round-robin order (not a Set: see runner/run-table.ts). */
  readonly #ready = new RoundRobin<string>()
  #running = 0
  #queued = 0
  /** Until when (performance.now()) the tenants count as contended. */
  #contendedUntil = 0

  constructor(options: AdmissionOptions = {}) {
    for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      const value = options[key] ?? DEFAULTS[key]
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${key} must be an integer`)
      if (value < (key.endsWith('Queue') ? 0 : 1)) throw new RangeError(`options.${key} is out of range`)
    }
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('options.now must be a function')
    if (options.tenantConcurrency !== undefined && typeof options.tenantConcurrency !== 'function') throw new TypeError('options.tenantConcurrency must be a function')
    this.#tenantConcurrency = options.tenantConcurrency
    this.#now = options.now ?? (() => performance.now())
    this.#targetMs = options.queueTargetMs ?? DEFAULTS.queueTargetMs
    this.#intervalMs = Math.max(this.#targetMs, MIN_INTERVAL_MS)
    this.#perTenantConcurrency = options.perTenantConcurrency ?? DEFAULTS.perTenantConcurrency
    this.#contendedConcurrency = Math.min(this.#perTenantConcurrency, options.contendedConcurrency ?? DEFAULTS.contendedConcurrency)
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
  admit(tenantId: string, start: () => void): { verdict: Admission; ticket: Ticket | null; retryAfterSeconds?: number } {
    const lane = this.#lane(tenantId)
    const cap = this.#cap(tenantId)
    if (lane.queue.length === 0 && lane.running < cap && this.#running < this.#globalConcurrency) {
      lane.running++
      this.#running++
      start()
      return { verdict: 'started', ticket: null }
    }
    // Held back by its own cap (or behind its own queue): the tenant's bound answers first.
    const tenantLimited = lane.queue.length > 0 || lane.running >= cap
    if (tenantLimited && (lane.shedding || lane.queue.length >= this.#perTenantQueue)) {
      if (lane.running === 0 && lane.queue.length === 0) this.#lanes.delete(tenantId)
      return { verdict: 'TENANT_BUSY', ticket: null, retryAfterSeconds: Math.max(1, Math.ceil(lane.lastWaitMs / 1000)) }
    }
    if (this.#queued >= this.#globalQueue) {
      if (lane.running === 0 && lane.queue.length === 0) this.#lanes.delete(tenantId)
      return { verdict: 'OVERLOADED', ticket: null, retryAfterSeconds: 1 }
    }
    const waiting: Waiting = { start, cancelled: false, since: this.#now() }
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
          if (lane.queue.length === 0) {
            this.#ready.delete(tenantId)
            this.#settle(lane)
          }
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
    this.#forget(tenantId, lane)
    this.#drain()
  }

  /** Runs in flight one tenant may have now: less while other tenants are active too, never over its quota. */
  #cap(tenantId: string): number {
    const quota = this.#tenantConcurrency?.(tenantId) ?? Infinity
    if (this.#lanes.size > 1) {
      this.#contendedUntil = performance.now() + CONTENTION_LINGER_MS
      return Math.min(quota, this.#contendedConcurrency)
    }
    return Math.min(quota, performance.now() < this.#contendedUntil ? this.#contendedConcurrency : this.#perTenantConcurrency)
  }

  #drain(): void {
    let scanned = 0
    while (this.#running < this.#globalConcurrency && this.#ready.size > 0 && scanned < this.#ready.size) {
      const tenantId = this.#ready.first() as string
      const lane = this.#lanes.get(tenantId) as Lane
      // Rotate: this tenant goes to the back of the line whatever happens now.
      this.#ready.delete(tenantId)
      if (lane.running >= this.#cap(tenantId)) {
        this.#ready.add(tenantId)
        scanned++
        continue
      }
      scanned = 0
      const next = lane.queue.shift() as Waiting
      this.#queued--
      this.#observeWait(lane, next.since)
      if (lane.queue.length > 0) this.#ready.add(tenantId)
      else this.#settle(lane)
      lane.running++
      this.#running++
      next.start()
    }
  }

  /** CoDel's detector, on each run leaving the queue: a whole interval over the target, and growing, sheds. */
  #observeWait(lane: Lane, since: number): void {
    const now = this.#now()
    const wait = now - since
    lane.lastWaitMs = wait
    if (wait < this.#targetMs) {
      this.#settle(lane)
      return
    }
    if (lane.overSince === 0) {
      lane.overSince = now
      lane.queueAtOver = lane.queue.length
      return
    }
    if (now - lane.overSince < this.#intervalMs) return
    // A growing queue, not a standing one: more than noise (a tenth, and at least a few runs).
    const grew = lane.queue.length >= lane.queueAtOver + Math.max(4, lane.queueAtOver / 10)
    lane.growing = grew ? lane.growing + 1 : 0
    if (lane.growing >= GROWING_INTERVALS) lane.shedding = true
    lane.overSince = now
    lane.queueAtOver = lane.queue.length
  }

  /** An empty queue is the end of a wait episode. */
  #settle(lane: Lane): void {
    lane.overSince = 0
    lane.growing = 0
    lane.shedding = false
  }

  #lane(tenantId: string): Lane {
    let lane = this.#lanes.get(tenantId)
    if (lane === undefined) {
      lane = { running: 0, queue: [], overSince: 0, queueAtOver: 0, growing: 0, shedding: false, lastWaitMs: 0 }
      this.#lanes.set(tenantId, lane)
    }
    return lane
  }

  #forget(tenantId: string, lane: Lane): void {
    if (lane.running === 0 && lane.queue.length === 0) this.#lanes.delete(tenantId)
  }
}
