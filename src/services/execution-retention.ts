import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import type { ExecutionRepository } from '../db/execution.repository.js'
import { BatchedPurge, checkPositiveIntegers } from './batched-purge.js'

export interface ExecutionRetentionOptions {
  db: Database
  executions: ExecutionRepository
  logger: Logger
  /** Records older than this many days are purged. */
  retentionDays: number
  /** Rows deleted per transaction. */
  batchSize?: number
  /** Time between purges. */
  intervalMs?: number
  /** The clock, for tests. */
  now?: () => Date
}

const DEFAULTS = { batchSize: 1000, intervalMs: 60 * 60 * 1000 }

/**
 * Purges execution records past their retention, hourly, in batches on the created_at index
 * (executions_created); see BatchedPurge.
 */
export class ExecutionRetention {
  readonly #purge: BatchedPurge

  constructor(options: ExecutionRetentionOptions) {
    const batchSize = options.batchSize ?? DEFAULTS.batchSize
    const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs
    checkPositiveIntegers({ retentionDays: options.retentionDays, batchSize, intervalMs })
    const { executions } = options
    this.#purge = new BatchedPurge({
      db: options.db,
      logger: options.logger,
      what: 'old executions',
      targets: [{ name: 'executions', days: options.retentionDays, purge: (tx, cutoff, limit) => executions.purgeBefore(tx, cutoff, limit) }],
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

  /** Deletes every record past retention, batch by batch; answers how many went. */
  async purge(): Promise<number> {
    return (await this.#purge.purge()).executions ?? 0
  }
}
