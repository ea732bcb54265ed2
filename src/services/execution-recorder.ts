import { Buffer } from 'node:buffer'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { DATA_PLANE_ERRORS, ROUTE_REFUSALS, type HttpRun } from '../../gateway/index.js'
import { runFailureStatus } from '../../runner/index.js'
import { ERROR_CODES } from '../errors.js'
import type { LogEntry } from '../../runner/index.js'
import type { Database } from '../db/database.js'
import { executionRowJson, rowText, type ExecutionRepository } from '../db/execution.repository.js'
import { recordOf } from '../domain/execution.js'
import { FailureJournal, type JournalSegment } from './failure-journal.js'
import { RecordBuffer } from './record-buffer.js'
import type { RollupAggregator } from './rollup-aggregator.js'
import { RunSampler } from './run-sampler.js'

export interface ExecutionRecorderOptions {
  db: Database
  executions: ExecutionRepository
  /** Counts every run, kept or not. */
  rollups: RollupAggregator
  logger: Logger
  /** Share of successful runs recorded in full when the route sets none (0..1). */
  sampleRate: number
  /** Runs of each new script version recorded in full whatever the sample rate. */
  firstRuns: number
  /** Most successful runs of one script recorded per second at the default rate (run-sampler.ts). */
  sampleMaxPerSecond?: number
  /** Bytes of sampled successes held (waiting and being written). */
  bufferBytes: number
  /** Bytes of failures' records held. */
  failureBufferBytes: number
  /** Log bytes a record keeps when its route sets no outputBytes limit. */
  defaultOutputBytes: number
  /** Folder of the failure journal; null keeps failures in memory only. */
  journalDir: string | null
  /** Records written by one statement. */
  batchSize?: number
  /** About this many bytes of records per statement. */
  batchBytes?: number
  /** How long a record may wait for its batch. */
  flushIntervalMs?: number
}

const DEFAULTS = { batchSize: 500, batchBytes: 4 * 1024 * 1024, flushIntervalMs: 50 }
/** Memory of a buffered record besides its JSON text. */
const RECORD_OVERHEAD_BYTES = 200
/** How long a failed write waits before the next try. */
const RETRY_MS = 1_000

/** Why a record was not written. */
export type DropReason = 'buffer_full' | 'evicted' | 'failure_buffer_full' | 'failure_evicted' | 'unwritable'
const DROP_REASONS: readonly DropReason[] = ['buffer_full', 'evicted', 'failure_buffer_full', 'failure_evicted', 'unwritable']

export interface RecorderStats {
  /** Records waiting to be written. */
  buffered: number
  /** Bytes held: waiting and being written. */
  bufferedBytes: number
  written: number
  dropped: Record<DropReason, number>
}

interface Buffered {
  text: string
  segment: JournalSegment | null
}

type Taken = { tenantId: string; item: Buffered; bytes: number }

/**
 * Decides after each HTTP run what is kept of it (tail sampling) and writes what is kept off the
 * hot path. Every run is counted in the per-minute rollups. A run that did not complete, or
 * answered 5xx, is kept in full: its record goes to the failure journal in the same turn as its
 * answer and into a buffer of its own. A successful run is kept when its version is new (its
 * first `firstRuns` runs in this process) or at the route's sample rate. Kept records wait in
 * byte-bounded buffers with per-tenant fair shares (RecordBuffer) and are written in batches of
 * one statement each (failures first); what does not fit is dropped and counted by reason
 * (`isogate_execution_records_dropped_total`), failures' drops also logged.
 *
 * @example
 * const recorder = new ExecutionRecorder({ db, executions, rollups, logger, sampleRate: 0.01, firstRuns: 100, ... })
 * await recorder.start() // writes the journal left by a crashed process
 * dataPlane.onRun = (run) => recorder.recordHttp(run)
 */
export class ExecutionRecorder {
  readonly #db: Database
  readonly #executions: ExecutionRepository
  readonly #rollups: RollupAggregator
  readonly #logger: Logger
  readonly #sampler: RunSampler
  readonly #defaultOutputBytes: number
  readonly #journalDir: string | null
  readonly #batchSize: number
  readonly #batchBytes: number
  readonly #flushIntervalMs: number
  readonly #successes: RecordBuffer<Buffered>
  readonly #failures: RecordBuffer<Buffered>
  #journal: FailureJournal | null = null
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null
  #retryAt = 0
  #written = 0
  readonly #dropped: Record<DropReason, number> = { buffer_full: 0, evicted: 0, failure_buffer_full: 0, failure_evicted: 0, unwritable: 0 }
  /** Failures dropped since the last log line about them. */
  #unloggedFailureDrops = 0
  #lastDropLog = 0
  #writeFailures = 0

  constructor(options: ExecutionRecorderOptions) {
    for (const key of ['batchSize', 'batchBytes', 'flushIntervalMs'] as const) {
      const value = options[key] ?? DEFAULTS[key]
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer`)
    }
    if (!Number.isInteger(options.defaultOutputBytes) || options.defaultOutputBytes < 1) throw new RangeError('options.defaultOutputBytes must be a positive integer')
    this.#db = options.db
    this.#executions = options.executions
    this.#rollups = options.rollups
    this.#logger = options.logger
    this.#sampler = new RunSampler({ sampleRate: options.sampleRate, firstRuns: options.firstRuns, maxPerSecond: options.sampleMaxPerSecond })
    this.#defaultOutputBytes = options.defaultOutputBytes
    this.#journalDir = options.journalDir
    this.#batchSize = options.batchSize ?? DEFAULTS.batchSize
    this.#batchBytes = options.batchBytes ?? DEFAULTS.batchBytes
    this.#flushIntervalMs = options.flushIntervalMs ?? DEFAULTS.flushIntervalMs
    this.#successes = new RecordBuffer({ maxBytes: options.bufferBytes })
    this.#failures = new RecordBuffer({ maxBytes: options.failureBufferBytes })
  }

  get stats(): RecorderStats {
    return {
      buffered: this.#successes.length + this.#failures.length,
      bufferedBytes: this.#successes.bytes + this.#failures.bytes,
      written: this.#written,
      dropped: { ...this.#dropped },
    }
  }

  /**
   * Writes the records a crashed process left in the journal, then opens this process's journal.
   * A journal that cannot be written now stays for the next start.
   */
  async start(): Promise<void> {
    if (this.#journalDir === null) return
    const { files, rows } = FailureJournal.leftovers(this.#journalDir)
    if (files.length > 0) {
      try {
        for (let i = 0; i < rows.length; i += this.#batchSize) {
          await this.#executions.writeBatch(this.#db, `[${rows.slice(i, i + this.#batchSize).join(',')}]`)
        }
        for (const file of files) FailureJournal.remove(file)
        this.#logger.info({ records: rows.length, files: files.length }, 'wrote the failed runs a previous process journaled')
      } catch (error) {
        this.#logger.error({ err: error, records: rows.length }, 'could not write the journaled failed runs; they stay for the next start')
      }
    }
    this.#journal = new FailureJournal({ dir: this.#journalDir, logger: this.#logger })
  }

  /** A finished HTTP run: counted always, kept in full when the sampling says so. Synchronous. */
  recordHttp(run: HttpRun): void {
    const { result, route } = run
    const answered = result.ok && result.response !== undefined
    const code = answered ? null : (result.error?.code ?? 'SCRIPT_ERROR')
    const status = answered ? (result.response?.status as number) : statusOfFailure(code as string)
    const body = result.response?.body
    this.#rollups.observe({
      tenantId: route.tenantId,
      scriptId: route.scriptId,
      at: Date.now(),
      ok: answered,
      code,
      status,
      durationMs: result.metrics.wallMs,
      cpuMs: result.metrics.cpuMs,
      bytesIn: byteLength(run.request.body),
      bytesOut: answered ? byteLength(body ?? null) : 0,
    })
    // A run whose client went away before its answer is kept like a failure: 499, and a run that
    // succeeded says why it counts as cancelled (a failed run keeps its own error).
    const failure = !answered || status >= 500 || run.clientAborted
    if (!failure && !this.#sampler.keep(route.scriptId, route.version, route.sampleRate)) return
    // A refusal (no script ran) is counted above; kept in full the first of its code per script per second.
    if (code !== null && ROUTE_REFUSALS.has(code) && !this.#sampler.keepRefusal(route.scriptId, code, Date.now())) return

    const record = recordOf(
      {
        id: run.executionId,
        tenantId: route.tenantId,
        scriptId: route.scriptId,
        scriptVersion: route.version,
        trigger: 'http',
        input: { method: run.request.method, url: run.request.url },
        startedAt: run.startedAt,
      },
      result,
    )
    // The status the client got, a failed run's too (500, 503, 504): what `?status=5xx` finds.
    record.httpStatus = status
    if (run.clientAborted) {
      record.httpStatus = 499
      if (record.status === 'completed') {
        record.status = 'cancelled'
        record.error = { code: 'CLIENT_ABORTED', message: ERROR_CODES.CLIENT_ABORTED.message }
      }
    }
    record.logs = capLogs(record.logs, route.limits.outputBytes ?? this.#defaultOutputBytes)
    const text = rowText(executionRowJson(record))
    const bytes = text.length + RECORD_OVERHEAD_BYTES
    const item: Buffered = { text, segment: null }
    const buffer = failure ? this.#failures : this.#successes
    const admission = buffer.offer(route.tenantId, item, bytes)
    for (const evicted of admission.evicted) this.#drop(failure ? 'failure_evicted' : 'evicted', evicted)
    if (!admission.accepted) {
      this.#drop(failure ? 'failure_buffer_full' : 'buffer_full', item)
      return
    }
    if (failure && this.#journal !== null) item.segment = this.#journal.append(text)
    this.#schedule()
  }

  /** Writes everything buffered; resolves when it is in the database (or the database refused). */
  async flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    this.#retryAt = 0
    while (this.#flushing !== null) await this.#flushing
    if (this.#successes.length + this.#failures.length === 0) return
    await this.#startWrite()
  }

  /** Writes what it can and closes the journal (what was not written stays in it for the next start). */
  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      this.#journal?.close()
      this.#journal = null
    }
  }

  #schedule(): void {
    if (this.#timer !== null || this.#flushing !== null) return
    const full = this.#successes.length + this.#failures.length >= this.#batchSize
    const delay = Math.max(full ? 0 : this.#flushIntervalMs, this.#retryAt - Date.now())
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#startWrite()
    }, delay)
  }

  /** One write pass; records that arrived meanwhile (or stayed after a failed write) get the next. */
  #startWrite(): Promise<void> {
    this.#flushing = this.#writeAll()
      .catch((error: unknown) => {
        // #writeAll handles database failures itself; this is a fault of ours (the journal's files).
        this.#logger.error({ err: error }, 'execution record write pass failed')
        this.#retryAt = Date.now() + RETRY_MS
      })
      .finally(() => {
        this.#flushing = null
        if (this.#successes.length + this.#failures.length > 0) this.#schedule()
      })
    return this.#flushing
  }

  async #writeAll(): Promise<void> {
    // Records appended from now on go to a new segment, so this one can go once written.
    this.#journal?.rotate()
    for (;;) {
      let buffer = this.#failures
      let batch = buffer.take(this.#batchSize, this.#batchBytes)
      if (batch.length === 0) {
        buffer = this.#successes
        batch = buffer.take(this.#batchSize, this.#batchBytes)
      }
      if (batch.length === 0) return
      try {
        await this.#write(batch)
      } catch (error) {
        if (isDataError(error)) {
          // One record the database refuses (a value it cannot hold) must not sink the others.
          for (const one of batch) {
            try {
              if (batch.length === 1) throw error
              await this.#write([one])
            } catch (single) {
              this.#logger.error({ err: single, tenantId: one.tenantId }, 'the database refused an execution record; it is dropped')
              this.#drop('unwritable', one.item)
            }
            buffer.done([one])
          }
          continue
        }
        buffer.putBack(batch)
        this.#retryAt = Date.now() + RETRY_MS
        if (this.#writeFailures++ === 0) this.#logger.error({ err: error, records: batch.length }, 'could not write execution records; will retry')
        return
      }
      buffer.done(batch)
    }
  }

  async #write(batch: Taken[]): Promise<void> {
    await this.#executions.writeBatch(this.#db, `[${batch.map((taken) => taken.item.text).join(',')}]`)
    this.#written += batch.length
    if (this.#writeFailures > 0) {
      this.#logger.info({ failedWrites: this.#writeFailures }, 'execution records are written again')
      this.#writeFailures = 0
    }
    for (const taken of batch) if (taken.item.segment !== null) this.#journal?.settle(taken.item.segment, 1)
  }

  #drop(reason: DropReason, item: Buffered): void {
    this.#dropped[reason]++
    if (item.segment !== null) this.#journal?.settle(item.segment, 1)
    if (reason === 'buffer_full' || reason === 'evicted') return
    // A failure's record lost: logged with counts, at most once a second so a storm cannot flood the log.
    this.#unloggedFailureDrops++
    const now = Date.now()
    if (now - this.#lastDropLog < 1_000) return
    this.#lastDropLog = now
    this.#logger.warn(
      { dropped: this.#unloggedFailureDrops, reason, totals: { ...this.#dropped } },
      'failed runs\' execution records dropped: the failure buffer is full (the database is behind)',
    )
    this.#unloggedFailureDrops = 0
  }
}

/** Keeps log lines while their messages fit in `maxBytes` (the run's output limit); says how many went. */
export function capLogs(logs: LogEntry[], maxBytes: number): LogEntry[] {
  let size = 0
  for (let i = 0; i < logs.length; i++) {
    const entry = logs[i] as LogEntry
    size += entry.message.length
    if (size > maxBytes) {
      const kept = logs.slice(0, i)
      kept.push({ level: 'warn', message: `[isogate] ${logs.length - i} log lines not recorded: the record keeps at most ${maxBytes} bytes of logs`, time: entry.time })
      return kept
    }
  }
  return logs
}

/** What the client got for a run that did not complete: a refusal's own status, else the run failure's. */
function statusOfFailure(code: string): number {
  return (DATA_PLANE_ERRORS as Record<string, { status: number | null } | undefined>)[code]?.status ?? runFailureStatus(code)
}

function byteLength(body: string | ArrayBuffer | Uint8Array | null): number {
  if (body === null) return 0
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
}

/** SQLSTATE classes of a value the database will not take, however often it is asked. */
function isDataError(error: unknown): boolean {
  const state = (error as { code?: unknown; sqlState?: unknown }).sqlState ?? (error as { code?: unknown }).code
  return typeof state === 'string' && /^(22|23|42)/.test(state)
}

/** Exposes a recorder's counters to Prometheus, read at scrape time. */
export function recorderMetrics(recorder: ExecutionRecorder, registry: Registry): void {
  new Gauge({ name: 'isogate_execution_records_buffered', help: 'Execution records waiting to be written', registers: [registry], collect() { this.set(recorder.stats.buffered) } })
  new Gauge({ name: 'isogate_execution_records_buffered_bytes', help: 'Bytes of execution records held in memory (waiting and being written)', registers: [registry], collect() { this.set(recorder.stats.bufferedBytes) } })
  // A monotonic count is a counter (issue 18): read from the recorder at scrape time.
  new Counter({
    name: 'isogate_execution_records_written_total',
    help: 'Execution records written since start',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(recorder.stats.written)
    },
  })
  const dropped = new Counter({
    name: 'isogate_execution_records_dropped_total',
    help: 'Execution records not written, by reason: buffer_full / evicted (sampled successes), failure_buffer_full / failure_evicted (failed runs, also logged), unwritable (refused by the database); the rollups count every run regardless',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const now = recorder.stats.dropped
      for (const reason of DROP_REASONS) {
        dropped.inc({ reason }, now[reason] - seen[reason])
        seen[reason] = now[reason]
      }
    },
  })
  const seen: Record<DropReason, number> = { buffer_full: 0, evicted: 0, failure_buffer_full: 0, failure_evicted: 0, unwritable: 0 }
}
