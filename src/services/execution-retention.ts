import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import type { ExecutionRepository } from '../db/execution.repository.js'

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
const DAY_MS = 24 * 60 * 60 * 1000

/**
 * Purges execution records past their retention. Deletes run in small batches on the
 * created_at index (executions_created), each its own short transaction, so a large backlog
 * never holds locks or bloats one transaction. Safe on N processes: batches of two processes
 * may race for the same rows; a row is deleted once, the other DELETE just finds fewer.
 */
export class ExecutionRetention {
  readonly #db: Database
  readonly #executions: ExecutionRepository
  readonly #logger: Logger
  readonly #retentionDays: number
  readonly #batchSize: number
  readonly #intervalMs: number
  readonly #now: () => Date
  #timer: NodeJS.Timeout | null = null
  #running: Promise<number> | null = null

  constructor(options: ExecutionRetentionOptions) {
    this.#retentionDays = options.retentionDays
    this.#batchSize = options.batchSize ?? DEFAULTS.batchSize
    this.#intervalMs = options.intervalMs ?? DEFAULTS.intervalMs
    for (const key of ['retentionDays', 'batchSize', 'intervalMs'] as const) {
      const value = key === 'retentionDays' ? this.#retentionDays : key === 'batchSize' ? this.#batchSize : this.#intervalMs
      if (typeof value !== 'number') throw new TypeError(`options.${key} must be a number`)
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer`)
    }
    this.#db = options.db
    this.#executions = options.executions
    this.#logger = options.logger
    this.#now = options.now ?? (() => new Date())
  }

  /** Purges now, then every intervalMs; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== null) return
    const tick = (): void => {
      void this.purge().catch((error: unknown) => this.#logger.error({ err: error }, 'could not purge old executions; will retry'))
    }
    this.#timer = setInterval(tick, this.#intervalMs)
    this.#timer.unref()
    tick()
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#running?.catch(() => 0) // already logged by start(); stopping must not throw for it
  }

  /** Deletes every record past retention, batch by batch; answers how many went. */
  purge(): Promise<number> {
    this.#running ??= this.#purgeAll().finally(() => {
      this.#running = null
    })
    return this.#running
  }

  async #purgeAll(): Promise<number> {
    const cutoff = new Date(this.#now().getTime() - this.#retentionDays * DAY_MS)
    let total = 0
    for (;;) {
      const deleted = await this.#db.system((tx) => this.#executions.purgeBefore(tx, cutoff, this.#batchSize))
      total += deleted
      if (deleted < this.#batchSize) break
    }
    if (total > 0) this.#logger.info({ deleted: total, cutoff }, 'purged old executions')
    return total
  }
}
