import type { Logger } from 'pino'
import type { Database, Tx } from '../db/database.js'

/** One batch of a table's purge: rows older than `cutoff`, read from an index oldest first; answers how many went. */
export type PurgeBatch = (tx: Tx, cutoff: Date, limit: number) => Promise<number>

/** A table to purge, and how long it keeps its rows. */
export interface PurgeTarget {
  name: string
  days: number
  purge: PurgeBatch
}

export interface BatchedPurgeOptions {
  db: Database
  logger: Logger
  /** What goes, for the log lines: "old executions". */
  what: string
  /** Purged in this order (a table whose rows others point to comes after them). */
  targets: readonly PurgeTarget[]
  /** Rows deleted per transaction. */
  batchSize: number
  /** Time between purges. */
  intervalMs: number
  /** The clock, for tests. */
  now?: (() => Date) | undefined
}

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * Deletes rows past their retention, hourly: in small batches on an index, each batch its own
 * short transaction, so a large backlog never holds locks or bloats one transaction. Safe on N
 * processes: two batches racing for the same rows delete each row once, the other finds fewer.
 * The retention services (executions, rollups, trigger tables) are each one of these.
 *
 * @example
 * const purge = new BatchedPurge({ db, logger, what: 'old executions', batchSize: 1000, intervalMs: 3_600_000,
 *   targets: [{ name: 'executions', days: 30, purge: (tx, cutoff, limit) => executions.purgeBefore(tx, cutoff, limit) }] })
 * purge.start()
 */
export class BatchedPurge {
  readonly #options: BatchedPurgeOptions
  readonly #now: () => Date
  #timer: NodeJS.Timeout | null = null
  #running: Promise<Record<string, number>> | null = null

  constructor(options: BatchedPurgeOptions) {
    checkPositiveIntegers({ batchSize: options.batchSize, intervalMs: options.intervalMs })
    this.#options = options
    this.#now = options.now ?? (() => new Date())
  }

  /** Purges now, then every intervalMs; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== null) return
    const tick = (): void => {
      void this.purge().catch((error: unknown) => this.#options.logger.error({ err: error }, `could not purge ${this.#options.what}; will retry`))
    }
    this.#timer = setInterval(tick, this.#options.intervalMs)
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
    const { db, batchSize } = this.#options
    const counts: Record<string, number> = {}
    for (const target of this.#options.targets) {
      const cutoff = new Date(now - target.days * DAY_MS)
      let total = 0
      for (;;) {
        const deleted = await db.system((tx) => target.purge(tx, cutoff, batchSize))
        total += deleted
        if (deleted < batchSize) break
      }
      counts[target.name] = total
    }
    if (Object.values(counts).some((count) => count > 0)) this.#options.logger.info({ deleted: counts }, `purged ${this.#options.what}`)
    return counts
  }
}

/** What a retention service of one table is given. */
export interface TableRetentionOptions {
  db: Database
  logger: Logger
  /** Rows older than this many days are purged. */
  retentionDays: number
  /** Rows deleted per transaction. */
  batchSize?: number
  /** Time between purges. */
  intervalMs?: number
  /** The clock, for tests. */
  now?: () => Date
}

/** The BatchedPurge of one table: its options checked, its defaults filled in. */
export function tableRetention(table: { name: string; what: string; purge: PurgeBatch; defaults: { batchSize: number; intervalMs: number } }, options: TableRetentionOptions): BatchedPurge {
  const batchSize = options.batchSize ?? table.defaults.batchSize
  const intervalMs = options.intervalMs ?? table.defaults.intervalMs
  checkPositiveIntegers({ retentionDays: options.retentionDays, batchSize, intervalMs })
  return new BatchedPurge({
    db: options.db,
    logger: options.logger,
    what: table.what,
    targets: [{ name: table.name, days: options.retentionDays, purge: table.purge }],
    batchSize,
    intervalMs,
    now: options.now,
  })
}

/** Throws a TypeError or RangeError naming `options.<key>` for a value that is not a positive integer. */
export function checkPositiveIntegers(values: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'number') throw new TypeError(`options.${key} must be a number`)
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer`)
  }
}
