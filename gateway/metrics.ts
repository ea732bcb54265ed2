import { Counter, Histogram, type Registry } from 'prom-client'
import { statusLabel, type TenantLabels } from './metric-labels.js'

export interface GatewayMetricsOptions {
  /** Bounds the tenant label (names no tenant has are `_unknown`); without it every name is a label. */
  tenants?: TenantLabels
}

/**
 * The data plane's Prometheus metrics. Label children are cached per (tenant, status) so the hot
 * path does a Map lookup, not prom-client's label hashing, per request. Label values are bounded:
 * tenants through TenantLabels, statuses by statusLabel.
 */
export class GatewayMetrics {
  readonly #requests: Counter<'tenant' | 'status'>
  readonly #latency: Histogram<'tenant' | 'status'>
  readonly #rejections: Counter<'reason'>
  readonly #queueDelay: Histogram
  readonly #tenants: TenantLabels | undefined
  readonly #children = new Map<string, { requests: { inc(): void }; latency: { observe(value: number): void }; labels: { tenant: string; status: string } }>()

  constructor(registry: Registry, options: GatewayMetricsOptions = {}) {
    this.#tenants = options.tenants
    this.#requests = new Counter({ name: 'isogate_http_requests_total', help: 'Data-plane requests by tenant and status', labelNames: ['tenant', 'status'], registers: [registry] })
    this.#latency = new Histogram({
      name: 'isogate_http_request_duration_seconds',
      help: 'Data-plane request latency by tenant and status',
      labelNames: ['tenant', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    })
    this.#rejections = new Counter({ name: 'isogate_admission_rejections_total', help: 'Requests refused by admission control, a tenant gate or an open circuit', labelNames: ['reason'], registers: [registry] })
    this.#queueDelay = new Histogram({
      name: 'isogate_admission_queue_delay_seconds',
      help: 'How long admitted data-plane runs waited for a slot',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
  }

  observe(tenant: string, status: number, seconds: number): void {
    const key = `${tenant}\u0000${status}`
    let child = this.#children.get(key)
    if (child === undefined) {
      const labels = { tenant: this.#tenants?.of(tenant) ?? tenant, status: statusLabel(status) }
      child = { requests: this.#requests.labels(labels), latency: this.#latency.labels(labels), labels }
      // Names no tenant has share one child; caching each would grow this map without bound.
      if (labels.tenant === tenant) this.#children.set(key, child)
    }
    child.requests.inc()
    child.latency.observe(seconds)
  }

  rejected(reason: string): void {
    this.#rejections.inc({ reason })
  }

  queued(seconds: number): void {
    this.#queueDelay.observe(seconds)
  }

  /** A tenant was deleted: its series go and its label value is free. */
  forgetTenant(slug: string): void {
    for (const [key, child] of this.#children) {
      if (child.labels.tenant !== slug) continue
      this.#requests.remove(child.labels)
      this.#latency.remove(child.labels)
      this.#children.delete(key)
    }
    this.#tenants?.forget(slug)
  }
}
