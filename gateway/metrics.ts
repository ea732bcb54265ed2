import { Counter, type Registry } from 'prom-client'
import { HotCounter, HotHistogram, type CounterSeries, type HistogramSeries } from './hot-metrics.js'
import { statusLabel, type TenantLabels } from './metric-labels.js'

export interface GatewayMetricsOptions {
  /** Bounds the tenant label (names no tenant has are `_unknown`); without it every name is a label. */
  tenants?: TenantLabels
}

/**
 * The data plane's Prometheus metrics. The per-request series (requests, latency, queue delay)
 * are hot-metrics.ts's, held per (tenant, status): a request costs a Map lookup and a few
 * additions, not prom-client's label hashing. Label values are bounded: tenants through
 * TenantLabels, statuses by statusLabel.
 */
export class GatewayMetrics {
  readonly #requests: HotCounter
  readonly #latency: HotHistogram
  readonly #rejections: Counter<'reason'>
  readonly #queueDelay: HistogramSeries
  readonly #tenants: TenantLabels | undefined
  readonly #children = new Map<string, { requests: CounterSeries; latency: HistogramSeries; labels: { tenant: string; status: string } }>()

  constructor(registry: Registry, options: GatewayMetricsOptions = {}) {
    this.#tenants = options.tenants
    this.#requests = new HotCounter(registry, { name: 'isogate_http_requests_total', help: 'Data-plane requests by tenant and status' })
    this.#latency = new HotHistogram(registry, {
      name: 'isogate_http_request_duration_seconds',
      help: 'Data-plane request latency by tenant and status',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    })
    this.#rejections = new Counter({ name: 'isogate_admission_rejections_total', help: 'Requests refused by admission control, a tenant gate or an open circuit', labelNames: ['reason'], registers: [registry] })
    this.#queueDelay = new HotHistogram(registry, {
      name: 'isogate_admission_queue_delay_seconds',
      help: 'How long admitted data-plane runs waited for a slot',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }).series({})
  }

  observe(tenant: string, status: number, seconds: number): void {
    const key = `${tenant}\u0000${status}`
    let child = this.#children.get(key)
    if (child === undefined) {
      const labels = { tenant: this.#tenants?.of(tenant) ?? tenant, status: statusLabel(status) }
      child = { requests: this.#requests.series(labels), latency: this.#latency.series(labels), labels }
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
