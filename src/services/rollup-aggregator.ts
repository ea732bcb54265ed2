import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import type { ExecutionRollupRepository, RollupEntry } from '../db/execution-rollup.repository.js'
import { addRun, emptyCounts, MINUTE_MS, type RunObservation } from '../domain/execution-rollup.js'

export interface RollupAggregatorOptions {
  db: Database
  rollups: ExecutionRollupRepository
  logger: Logger
  /** How often counts are written. */
  flushIntervalMs: number
  /** This process's id in the rows it writes; a fresh one per start. */
  nodeId?: string
  /** The clock, for tests. */
  now?: () => number
}

interface Entry extends RollupEntry {
  /** Counted since the last write began. */
  dirty: boolean
}

/** A finished minute stays in memory this long after its last write, for runs that finish late. */
const KEEP_MS = 2 * MINUTE_MS

/**
 * Exact per-minute counts of every run (sampled or not), aggregated in memory and written in one
 * statement per flush: one row per script and minute for this process, holding its absolute
 * counts, so a write may be repeated (retries) and processes add up when read. Counting a run
 * is a few increments and a binary search; nothing on the request path allocates per run once
 * the script's minute exists.
 *
 * A crash loses what was counted since the last write (at most `flushIntervalMs`).
 */
export class RollupAggregator {
  readonly #db: Database
  readonly #rollups: ExecutionRollupRepository
  readonly #logger: Logger
  readonly #flushIntervalMs: number
  readonly #now: () => number
  readonly nodeId: string
  /** By script id and minute. */
  readonly #entries = new Map<string, Entry>()
  /** The entry each script counted into last: the common case skips building a key. */
  readonly #current = new Map<string, Entry>()
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null
  #failures = 0

  constructor(options: RollupAggregatorOptions) {
    if (!Number.isInteger(options.flushIntervalMs) || options.flushIntervalMs < 1) throw new RangeError('options.flushIntervalMs must be a positive integer')
    this.#db = options.db
    this.#rollups = options.rollups
    this.#logger = options.logger
    this.#flushIntervalMs = options.flushIntervalMs
    this.#now = options.now ?? Date.now
    this.nodeId = options.nodeId ?? randomUUID()
  }

  /** Counts one finished run in (synchronous, no I/O). */
  observe(run: RunObservation): void {
    const minute = run.at - (run.at % MINUTE_MS)
    let entry = this.#current.get(run.scriptId)
    if (entry === undefined || entry.minute !== minute) {
      const key = `${run.scriptId}:${minute}`
      entry = this.#entries.get(key)
      if (entry === undefined) {
        entry = { tenantId: run.tenantId, scriptId: run.scriptId, minute, counts: emptyCounts(), dirty: false }
        this.#entries.set(key, entry)
      }
      this.#current.set(run.scriptId, entry)
    }
    addRun(entry.counts, run)
    entry.dirty = true
  }

  /** Writes every `flushIntervalMs`; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => void this.flush().catch(() => undefined), this.#flushIntervalMs)
    this.#timer.unref()
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.flush()
  }

  /** Writes the counts that changed since the last write; resolves when they are in the database. */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing
    this.#flushing = this.#write().finally(() => {
      this.#flushing = null
    })
    await this.#flushing
  }

  async #write(): Promise<void> {
    const dirty: Entry[] = []
    for (const entry of this.#entries.values()) {
      if (!entry.dirty) continue
      entry.dirty = false
      dirty.push(entry)
    }
    if (dirty.length > 0) {
      // A snapshot: runs counted while the write is on its way mark the entry dirty again.
      const snapshot = dirty.map((entry) => ({ ...entry, counts: structuredClone(entry.counts) }))
      try {
        await this.#rollups.write(this.#db, this.nodeId, snapshot)
        if (this.#failures > 0) this.#logger.info({ failures: this.#failures }, 'run counts are written again')
        this.#failures = 0
      } catch (error) {
        for (const entry of dirty) entry.dirty = true
        if (this.#failures++ === 0) this.#logger.error({ err: error, rows: dirty.length }, 'could not write run counts; they stay in memory and are retried')
        throw error
      }
    }
    const old = this.#now() - KEEP_MS
    for (const [key, entry] of this.#entries) {
      if (!entry.dirty && entry.minute + MINUTE_MS < old) {
        this.#entries.delete(key)
        if (this.#current.get(entry.scriptId) === entry) this.#current.delete(entry.scriptId)
      }
    }
  }
}
