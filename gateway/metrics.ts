import { Counter, Histogram, type Registry } from 'prom-client'

/**
 * The data plane's Prometheus metrics. Label children are cached per (tenant, status) so the hot
 * path does a Map lookup, not prom-client's label hashing, per request.
 */
export class GatewayMetrics {
  readonly #requests: Counter<'tenant' | 'status'>
  readonly #latency: Histogram<'tenant' | 'status'>
  readonly #rejections: Counter<'reason'>
  readonly #children = new Map<string, { requests: { inc(): void }; latency: { observe(value: number): void } }>()

  constructor(registry: Registry) {
    this.#requests = new Counter({ name: 'isogate_http_requests_total', help: 'Data-plane requests by tenant and status', labelNames: ['tenant', 'status'], registers: [registry] })
    this.#latency = new Histogram({
      name: 'isogate_http_request_duration_seconds',
      help: 'Data-plane request latency by tenant and status',
      labelNames: ['tenant', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    })
    this.#rejections = new Counter({ name: 'isogate_admission_rejections_total', help: 'Requests refused by admission control or an open circuit', labelNames: ['reason'], registers: [registry] })
  }

  observe(tenant: string, status: number, seconds: number): void {
    const key = `${tenant}\u0000${status}`
    let child = this.#children.get(key)
    if (child === undefined) {
      const labels = { tenant, status: String(status) }
      child = { requests: this.#requests.labels(labels), latency: this.#latency.labels(labels) }
      this.#children.set(key, child)
    }
    child.requests.inc()
    child.latency.observe(seconds)
  }

  rejected(reason: string): void {
    this.#rejections.inc({ reason })
  }
}
