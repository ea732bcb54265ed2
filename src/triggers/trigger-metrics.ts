import { Counter, type Registry } from 'prom-client'

/** How a cron fire ended: the run's status, or why it did not run. */
export type CronFireOutcome = 'completed' | 'failed' | 'timeout' | 'skipped' | 'abandoned'
/** What became of one delivery attempt (or of a delivery that was not attempted). */
export type DeliveryOutcome = 'completed' | 'retry' | 'dead' | 'cancelled' | 'abandoned'

/** What the cron scheduler and the event dispatcher count. */
export interface TriggerMetrics {
  cronFire(outcome: CronFireOutcome): void
  delivery(outcome: DeliveryOutcome): void
}

/**
 * The triggers' Prometheus counters: `isogate_cron_fires_total{outcome}`,
 * `isogate_event_deliveries_total{outcome}`, `isogate_event_retries_total` and
 * `isogate_dead_letters_total`. Outcomes are a fixed set, so the label sets are bounded.
 *
 * @example
 * const metrics = new PrometheusTriggerMetrics(registry)
 * await startTriggers({ ..., metrics })
 */
export class PrometheusTriggerMetrics implements TriggerMetrics {
  readonly #fires: Counter<'outcome'>
  readonly #deliveries: Counter<'outcome'>
  readonly #retries: Counter
  readonly #deadLetters: Counter

  constructor(registry: Registry) {
    this.#fires = new Counter({ name: 'isogate_cron_fires_total', help: 'Cron fires by outcome (this process)', labelNames: ['outcome'], registers: [registry] })
    this.#deliveries = new Counter({ name: 'isogate_event_deliveries_total', help: 'Event delivery attempts by outcome (this process)', labelNames: ['outcome'], registers: [registry] })
    this.#retries = new Counter({ name: 'isogate_event_retries_total', help: 'Failed event delivery attempts that were scheduled again', registers: [registry] })
    this.#deadLetters = new Counter({ name: 'isogate_dead_letters_total', help: 'Event deliveries that became dead letters', registers: [registry] })
  }

  cronFire(outcome: CronFireOutcome): void {
    this.#fires.inc({ outcome })
  }

  delivery(outcome: DeliveryOutcome): void {
    this.#deliveries.inc({ outcome })
    if (outcome === 'retry') this.#retries.inc()
    else if (outcome === 'dead') this.#deadLetters.inc()
  }
}

/** Counts nothing (a scheduler or dispatcher started without metrics). */
export const NO_TRIGGER_METRICS: TriggerMetrics = Object.freeze({ cronFire() {}, delivery() {} })
