import type { Logger } from 'pino'
import type { Database, Tx } from '../db/database.js'

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
const DAY_MS = 24 * 60 * 60 * 1000

/** One purge: a batch of rows older than `cutoff`, walking an index oldest first. */
type Purge = (tx: Tx, cutoff: Date, limit: number) => Promise<number>

/**
 * What each trigger table keeps, and how a batch of what it no longer keeps goes. Every batch
 * reads its rows from an index in age order (migration 130), so a purge never scans a table.
 * An event goes only once no delivery of it is pending or running (a delivery of a deleted event
 * would go with it); an event's finished deliveries go with it by the foreign key or by age.
 */
const PURGES: Record<'events' | 'event_deliveries' | 'event_idempotency' | 'cron_fires' | 'dead_letters', { days: 'eventDays' | 'cronFireDays' | 'deadLetterDays'; purge: Purge }> = {
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
 * letters) past their retention, as ExecutionRetention does for executions: small batches, each
 * a short transaction on an index, hourly. Safe on N processes (two batches racing for the same
 * rows delete each row once).
 *
 * @example
 * const retention = new TriggerRetention({ db, logger, eventDays: 30, cronFireDays: 30, deadLetterDays: 90 })
 * retention.start()
 */
export class TriggerRetention {
  readonly #db: Database
  readonly #logger: Logger
  readonly #days: Record<'eventDays' | 'cronFireDays' | 'deadLetterDays', number>
  readonly #batchSize: number
  readonly #intervalMs: number
  readonly #now: () => Date
  #timer: NodeJS.Timeout | null = null
  #running: Promise<Record<string, number>> | null = null

  constructor(options: TriggerRetentionOptions) {
    const values = { eventDays: options.eventDays, cronFireDays: options.cronFireDays, deadLetterDays: options.deadLetterDays, batchSize: options.batchSize ?? DEFAULTS.batchSize, intervalMs: options.intervalMs ?? DEFAULTS.intervalMs }
    for (const [key, value] of Object.entries(values)) {
      if (typeof value !== 'number') throw new TypeError(`options.${key} must be a number`)
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer`)
    }
    this.#db = options.db
    this.#logger = options.logger
    this.#days = { eventDays: values.eventDays, cronFireDays: values.cronFireDays, deadLetterDays: values.deadLetterDays }
    this.#batchSize = values.batchSize
    this.#intervalMs = values.intervalMs
    this.#now = options.now ?? (() => new Date())
  }

  /** Purges now, then every intervalMs; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== null) return
    const tick = (): void => {
      void this.purge().catch((error: unknown) => this.#logger.error({ err: error }, 'could not purge old trigger rows; will retry'))
    }
    this.#timer = setInterval(tick, this.#intervalMs)
    this.#timer.unref()
    tick()
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#running?.catch(() => ({})) // already logged by start(); stopping must not throw for it
  }

  /** Deletes every row past retention, table by table, batch by batch; answers how many went per table. */
  purge(): Promise<Record<string, number>> {
    this.#running ??= this.#purgeAll().finally(() => {
      this.#running = null
    })
    return this.#running
  }

  async #purgeAll(): Promise<Record<string, number>> {
    const now = this.#now().getTime()
    const counts: Record<string, number> = {}
    for (const [table, { days, purge }] of Object.entries(PURGES)) {
      const cutoff = new Date(now - this.#days[days] * DAY_MS)
      let total = 0
      for (;;) {
        const deleted = await this.#db.system((tx) => purge(tx, cutoff, this.#batchSize))
        total += deleted
        if (deleted < this.#batchSize) break
      }
      counts[table] = total
    }
    if (Object.values(counts).some((count) => count > 0)) this.#logger.info({ deleted: counts }, 'purged old trigger rows')
    return counts
  }
}
