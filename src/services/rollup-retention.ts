import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import type { ExecutionRollupRepository } from '../db/execution-rollup.repository.js'
import { BatchedPurge, checkPositiveIntegers } from './batched-purge.js'

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

/**
 * Purges per-minute rollups past ISOGATE_ROLLUP_RETENTION_DAYS, hourly, in batches on the minute
 * index; see BatchedPurge.
 */
export class RollupRetention {
  readonly #purge: BatchedPurge

  constructor(options: RollupRetentionOptions) {
    const batchSize = options.batchSize ?? DEFAULTS.batchSize
    const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs
    checkPositiveIntegers({ retentionDays: options.retentionDays, batchSize, intervalMs })
    const { rollups } = options
    this.#purge = new BatchedPurge({
      db: options.db,
      logger: options.logger,
      what: 'old run rollups',
      targets: [{ name: 'execution_rollups', days: options.retentionDays, purge: (tx, cutoff, limit) => rollups.purgeBefore(tx, cutoff, limit) }],
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

  /** Deletes every rollup row past retention; answers how many went. */
  async purge(): Promise<number> {
    return (await this.#purge.purge()).execution_rollups ?? 0
  }
}
