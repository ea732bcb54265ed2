import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import type { ExecutionRollupRepository } from '../db/execution-rollup.repository.js'

export interface RollupRetentionOptions {
  db: Database
  rollups: ExecutionRollupRepository
  logger: Logger
  /** Minutes older than this many days are purged. */
  retentionDays: number
  /** Rows deleted per transaction. */
  batchSize?: number
  /** Time between purges. */
  intervalMs?: number
  /** The clock, for tests. */
  now?: () => Date
}

const DEFAULTS = { batchSize: 5000, intervalMs: 60 * 60 * 1000 }
const DAY_MS = 24 * 60 * 60 * 1000

/**
 * Purges per-minute rollups past ISOGATE_ROLLUP_RETENTION_DAYS, hourly, in small batches on the
 * minute index (each its own short transaction). Safe on N processes: a row goes once.
 */
export class RollupRetention {
  readonly #options: RollupRetentionOptions
  readonly #batchSize: number
  readonly #intervalMs: number
  readonly #now: () => Date
  #timer: NodeJS.Timeout | null = null
  #running: Promise<number> | null = null

  constructor(options: RollupRetentionOptions) {
    this.#batchSize = options.batchSize ?? DEFAULTS.batchSize
    this.#intervalMs = options.intervalMs ?? DEFAULTS.intervalMs
    for (const [key, value] of [['retentionDays', options.retentionDays], ['batchSize', this.#batchSize], ['intervalMs', this.#intervalMs]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer`)
    }
    this.#options = options
    this.#now = options.now ?? (() => new Date())
  }

  /** Purges now, then every intervalMs; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== null) return
    const tick = (): void => {
      void this.purge().catch((error: unknown) => this.#options.logger.error({ err: error }, 'could not purge old run rollups; will retry'))
    }
    this.#timer = setInterval(tick, this.#intervalMs)
    this.#timer.unref()
    tick()
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#running?.catch(() => 0) // logged by start()
  }

  /** Deletes every rollup row past retention; answers how many went. */
  purge(): Promise<number> {
    this.#running ??= this.#purgeAll().finally(() => {
      this.#running = null
    })
    return this.#running
  }

  async #purgeAll(): Promise<number> {
    const cutoff = new Date(this.#now().getTime() - this.#options.retentionDays * DAY_MS)
    let total = 0
    for (;;) {
      const deleted = await this.#options.db.system((tx) => this.#options.rollups.purgeBefore(tx, cutoff, this.#batchSize))
      total += deleted
      if (deleted < this.#batchSize) break
    }
    if (total > 0) this.#options.logger.info({ deleted: total, cutoff }, 'purged old run rollups')
    return total
  }
}
