import type { ExecutionRepository } from '../db/execution.repository.js'
import { tableRetention, type BatchedPurge, type TableRetentionOptions } from './batched-purge.js'

export interface ExecutionRetentionOptions extends TableRetentionOptions {
  executions: ExecutionRepository
}

const DEFAULTS = { batchSize: 1000, intervalMs: 60 * 60 * 1000 }

/**
 * Purges execution records past their retention, hourly, in batches on the created_at index
 * (executions_created); see BatchedPurge.
 */
export class ExecutionRetention {
  readonly #purge: BatchedPurge

  constructor(options: ExecutionRetentionOptions) {
    const { executions } = options
    this.#purge = tableRetention({ name: 'executions', what: 'old executions', purge: (tx, cutoff, limit) => executions.purgeBefore(tx, cutoff, limit), defaults: DEFAULTS }, options)
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
    return (await this.#purge.purge()).executions ?? 0
  }
}
