import { performance } from 'node:perf_hooks'

/** What the operator decided about one tenant, as the data plane needs it. */
export interface TenantPolicy {
  suspended: boolean
  /** Requests per second on this node (a token bucket, burst of one second); 0: no limit. */
  requestsPerSecond: number
  /** Runs in flight at once on this node (fed to admission control). */
  concurrency: number
}

export type GateVerdict = null | { code: 'TENANT_SUSPENDED' } | { code: 'TENANT_RATE_LIMITED'; retryAfterSeconds: number }

export interface TenantGateOptions {
  /** The clock in milliseconds (performance.now by default); tests pass a fake one. */
  now?: () => number
}

interface Bucket {
  tokens: number
  at: number
}

/**
 * The data plane's per-tenant door, before admission: a suspended tenant answers 403
 * TENANT_SUSPENDED, one over its request rate 429 TENANT_RATE_LIMITED with the seconds until a
 * token is back. One token bucket per tenant and node (a node does not ask the others: N nodes
 * behind a balancer let a tenant through at up to N times the rate). Policies are set from the
 * tenant directory and replaced whole when the operator changes one; a tenant with no policy
 * passes.
 *
 * @example
 * const gate = new TenantGate()
 * gate.set(tenantId, { suspended: false, requestsPerSecond: 50, concurrency: 64 })
 * gate.check(tenantId) // null, or the refusal
 */
export class TenantGate {
  readonly #policies = new Map<string, TenantPolicy>()
  readonly #buckets = new Map<string, Bucket>()
  readonly #now: () => number

  constructor(options: TenantGateOptions = {}) {
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('options.now must be a function')
    this.#now = options.now ?? (() => performance.now())
  }

  set(tenantId: string, policy: TenantPolicy): void {
    const previous = this.#policies.get(tenantId)
    this.#policies.set(tenantId, policy)
    if (previous?.requestsPerSecond !== policy.requestsPerSecond) this.#buckets.delete(tenantId)
  }

  remove(tenantId: string): void {
    this.#policies.delete(tenantId)
    this.#buckets.delete(tenantId)
  }

  /** Runs in flight the tenant may have on this node, or undefined for the default. */
  concurrencyOf(tenantId: string): number | undefined {
    return this.#policies.get(tenantId)?.concurrency
  }

  /** Whether the operator suspended the tenant (its requests answer 403 TENANT_SUSPENDED, routed or not). */
  suspended(tenantId: string): boolean {
    return this.#policies.get(tenantId)?.suspended === true
  }

  /** Takes a token when the tenant may send a request now; answers why not otherwise. */
  check(tenantId: string): GateVerdict {
    const policy = this.#policies.get(tenantId)
    if (policy === undefined) return null
    if (policy.suspended) return SUSPENDED
    const rate = policy.requestsPerSecond
    if (rate <= 0) return null
    const capacity = Math.max(1, rate)
    const now = this.#now()
    let bucket = this.#buckets.get(tenantId)
    if (bucket === undefined) {
      bucket = { tokens: capacity, at: now }
      this.#buckets.set(tenantId, bucket)
    } else {
      bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * rate)
      bucket.at = now
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return null
    }
    return { code: 'TENANT_RATE_LIMITED', retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate)) }
  }
}

const SUSPENDED = Object.freeze({ code: 'TENANT_SUSPENDED' as const })
