import type { ExecutionRollupRepository } from '../db/execution-rollup.repository.js'
import { tableRetention, type BatchedPurge, type TableRetentionOptions } from './batched-purge.js'

export interface RollupRetentionOptions extends TableRetentionOptions {
  rollups: ExecutionRollupRepository
}

const DEFAULTS = { batchSize: 5000, intervalMs: 60 * 60 * 1000 }

/**
 * Purges per-minute rollups past ISOGATE_ROLLUP_RETENTION_DAYS, hourly, in batches on the minute
 * index; see BatchedPurge.
 */
export class RollupRetention {
  readonly #purge: BatchedPurge

  constructor(options: RollupRetentionOptions) {
    const { rollups } = options
    this.#purge = tableRetention({ name: 'execution_rollups', what: 'old run rollups', purge: (tx, cutoff, limit) => rollups.purgeBefore(tx, cutoff, limit), defaults: DEFAULTS }, options)
  }

  /** Purges now, then every intervalMs; the timer never keeps the process alive. */
  start(): void {
    this.#purge.start()
  }

  stop(): Promise<void> {
    return this.#purge.stop()
  }

  /** Deletes every row past retention, batch by batch; answers how many went. */
  async purge(): Promise<number> {
    return (await this.#purge.purge()).execution_rollups ?? 0
  }
}
