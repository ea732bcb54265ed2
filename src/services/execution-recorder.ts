import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import type { Database } from '../db/database.js'
import type { ExecutionRepository } from '../db/execution.repository.js'
import type { ExecutionRecord } from '../domain/execution.js'

export interface ExecutionRecorderOptions {
  db: Database
  executions: ExecutionRepository
  logger: Logger
  /** Records held in memory before completed ones are dropped (failed ones never are). */
  maxBuffered?: number
  /** Records written by one INSERT. */
  batchSize?: number
  /** How long a record may wait for its batch. */
  flushIntervalMs?: number
}

const DEFAULTS = { maxBuffered: 10_000, batchSize: 500, flushIntervalMs: 50 }

export interface RecorderStats {
  buffered: number
  written: number
  dropped: number
}

/**
 * Writes execution records off the hot path: runs append to a bounded buffer, a timer writes it
 * in multi-row INSERTs. When the buffer is full a completed run's record is dropped (counted
 * and logged) to make room; a failed run's record is never dropped.
 */
export class ExecutionRecorder {
  readonly #db: Database
  readonly #executions: ExecutionRepository
  readonly #logger: Logger
  readonly #maxBuffered: number
  readonly #batchSize: number
  readonly #flushIntervalMs: number
  #buffer: ExecutionRecord[] = []
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null
  #written = 0
  #dropped = 0

  constructor(options: ExecutionRecorderOptions) {
    this.#db = options.db
    this.#executions = options.executions
    this.#logger = options.logger
    this.#maxBuffered = options.maxBuffered ?? DEFAULTS.maxBuffered
    this.#batchSize = options.batchSize ?? DEFAULTS.batchSize
    this.#flushIntervalMs = options.flushIntervalMs ?? DEFAULTS.flushIntervalMs
    for (const key of ['maxBuffered', 'batchSize', 'flushIntervalMs'] as const) {
      const value = options[key] ?? DEFAULTS[key]
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer`)
    }
  }

  get stats(): RecorderStats {
    return { buffered: this.#buffer.length, written: this.#written, dropped: this.#dropped }
  }

  record(record: ExecutionRecord): void {
    if (this.#buffer.length >= this.#maxBuffered && !this.#makeRoom(record)) return
    this.#buffer.push(record)
    if (this.#buffer.length >= this.#batchSize) void this.flush()
    else this.#timer ??= setTimeout(() => void this.flush(), this.#flushIntervalMs)
  }

  /** Writes everything buffered; resolves when it is in the database. */
  async flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    while (this.#flushing !== null) await this.#flushing
    if (this.#buffer.length === 0) return
    this.#flushing = this.#writeAll().finally(() => {
      this.#flushing = null
    })
    await this.#flushing
  }

  async #writeAll(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.#batchSize)
      try {
        await this.#db.system((tx) => this.#executions.insertMany(tx, batch))
        this.#written += batch.length
      } catch (error) {
        // Put the batch back (failed runs first in line) and retry on the next tick of the timer.
        this.#buffer.unshift(...batch)
        this.#logger.error({ err: error, records: batch.length }, 'could not write execution records; will retry')
        this.#timer ??= setTimeout(() => void this.flush(), Math.max(this.#flushIntervalMs, 1000))
        return
      }
    }
  }

  /** Drops one completed record to make room; false when the new one should be dropped instead. */
  #makeRoom(incoming: ExecutionRecord): boolean {
    const victim = this.#buffer.findIndex((record) => record.status === 'completed')
    if (victim === -1 && incoming.status === 'completed') {
      this.#drop(incoming)
      return false
    }
    if (victim !== -1) this.#drop(this.#buffer.splice(victim, 1)[0] as ExecutionRecord)
    return true
  }

  #drop(record: ExecutionRecord): void {
    this.#dropped++
    this.#logger.warn({ executionId: record.id, tenantId: record.tenantId, dropped: this.#dropped }, 'execution record dropped: buffer full')
  }
}

/** Exposes a recorder's counters as Prometheus gauges, read at scrape time. */
export function recorderMetrics(recorder: ExecutionRecorder, registry: Registry): void {
  const read = (key: keyof RecorderStats) =>
    function (this: Gauge) {
      this.set(recorder.stats[key])
    }
  new Gauge({ name: 'isogate_execution_records_buffered', help: 'Execution records waiting to be written', registers: [registry], collect: read('buffered') })
  new Gauge({ name: 'isogate_execution_records_written', help: 'Execution records written since start', registers: [registry], collect: read('written') })
  new Gauge({ name: 'isogate_execution_records_dropped', help: 'Execution records dropped because the buffer was full (0 in normal operation)', registers: [registry], collect: read('dropped') })
}
