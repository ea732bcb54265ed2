import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { BatchedPurge, checkPositiveIntegers, type PurgeBatch } from './batched-purge.js'

export interface TriggerRetentionOptions {
  db: Database
  logger: Logger
  /** Events, and finished event deliveries, older than this many days go. */
  eventDays: number
  /** Finished cron fire claims older than this many days go. */
  cronFireDays: number
  /** Dead letters (replayed or not) older than this many days go. */
  deadLetterDays: number
  /** Rows deleted per statement (each its own short transaction). */
  batchSize?: number
  /** Time between purges. */
  intervalMs?: number
  /** The clock, for tests. */
  now?: () => Date
}

const DEFAULTS = { batchSize: 1000, intervalMs: 60 * 60 * 1000 }

/**
 * What each trigger table keeps, and how a batch of what it no longer keeps goes. Every batch
 * reads its rows from an index in age order (migration 130), so a purge never scans a table.
 * An event goes only once no delivery of it is pending or running (a delivery of a deleted event
 * would go with it); an event's finished deliveries go with it by the foreign key or by age.
 */
const PURGES: Record<'events' | 'event_deliveries' | 'event_idempotency' | 'cron_fires' | 'dead_letters', { days: 'eventDays' | 'cronFireDays' | 'deadLetterDays'; purge: PurgeBatch }> = {
  event_deliveries: {
    days: 'eventDays',
    purge: async (tx, cutoff, limit) =>
      (await tx`
        DELETE FROM event_deliveries WHERE id IN (
          SELECT id FROM event_deliveries WHERE status IN ('completed', 'cancelled', 'dead') AND finished_at < ${cutoff}
          ORDER BY finished_at LIMIT ${limit})
        RETURNING 1`).length,
  },
  events: {
    days: 'eventDays',
    purge: async (tx, cutoff, limit) =>
      (await tx`
        DELETE FROM events WHERE id IN (
          SELECT e.id FROM events e WHERE e.created_at < ${cutoff}
            AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'running'))
          ORDER BY e.created_at LIMIT ${limit})
        RETURNING 1`).length,
  },
  event_idempotency: {
    days: 'eventDays',
    // Keys past their window deduplicate nothing; their age does not matter.
    purge: async (tx, _cutoff, limit) =>
      (await tx`
        DELETE FROM event_idempotency WHERE (tenant_id, key) IN (
          SELECT tenant_id, key FROM event_idempotency WHERE expires_at < now() ORDER BY expires_at LIMIT ${limit})
        RETURNING 1`).length,
  },
  cron_fires: {
    days: 'cronFireDays',
    // A slot this old is long behind every script's next_run_at: it can never be claimed again.
    purge: async (tx, cutoff, limit) =>
      (await tx`
        DELETE FROM cron_fires WHERE (script_id, scheduled_at) IN (
          SELECT script_id, scheduled_at FROM cron_fires WHERE status <> 'running' AND finished_at < ${cutoff}
          ORDER BY finished_at LIMIT ${limit})
        RETURNING 1`).length,
  },
  dead_letters: {
    days: 'deadLetterDays',
    purge: async (tx, cutoff, limit) =>
      (await tx`
        DELETE FROM dead_letters WHERE id IN (
          SELECT id FROM dead_letters WHERE created_at < ${cutoff} ORDER BY created_at LIMIT ${limit})
        RETURNING 1`).length,
  },
}

/**
 * Purges the trigger tables (events, event deliveries, idempotency keys, cron fires, dead
 * letters) past their retention, hourly, in batches on an index; see BatchedPurge.
 *
 * @example
 * const retention = new TriggerRetention({ db, logger, eventDays: 30, cronFireDays: 30, deadLetterDays: 90 })
 * retention.start()
 */
export class TriggerRetention {
  readonly #purge: BatchedPurge

  constructor(options: TriggerRetentionOptions) {
    const days = { eventDays: options.eventDays, cronFireDays: options.cronFireDays, deadLetterDays: options.deadLetterDays }
    const batchSize = options.batchSize ?? DEFAULTS.batchSize
    const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs
    checkPositiveIntegers({ ...days, batchSize, intervalMs })
    this.#purge = new BatchedPurge({
      db: options.db,
      logger: options.logger,
      what: 'old trigger rows',
      targets: Object.entries(PURGES).map(([name, target]) => ({ name, days: days[target.days], purge: target.purge })),
      batchSize,
      intervalMs,
      now: options.now,
    })
  }

  /** Purges now, then every intervalMs; the timer never keeps the process alive. */
  start(): void {
    this.#purge.start()
  }

  stop(): Promise<void> {
    return this.#purge.stop()
  }

  /** Deletes every row past retention, table by table, batch by batch; answers how many went per table. */
  purge(): Promise<Record<string, number>> {
    return this.#purge.purge()
  }
}
