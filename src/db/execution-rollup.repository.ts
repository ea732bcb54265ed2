import type postgres from 'postgres'
import { emptyCounts, HISTOGRAM_SIZE, type RunCounts } from '../domain/execution-rollup.js'
import type { Database, Tx } from './database.js'

/** One process's counts for one script and minute, as written. */
export interface RollupEntry {
  tenantId: string
  scriptId: string
  /** Start of the minute, epoch ms. */
  minute: number
  counts: RunCounts
}

/** A stats bucket: its start and the counts of every process in it. */
export interface RollupBucket {
  start: Date
  counts: RunCounts
}

/**
 * Rows are absolute: a process writes what it has counted so far for (script, minute) under its
 * node id, so writing a row again (a retry, the next flush) replaces it, and rows of several
 * processes never touch each other.
 */
const UPSERT_BATCH = `
  INSERT INTO execution_rollups (tenant_id, script_id, minute, node_id, runs, completed, failed, failed_by_code,
    http_1xx, http_2xx, http_3xx, http_4xx, http_5xx, duration_sum_ms, cpu_sum_ms, duration_hist, cpu_hist, bytes_in, bytes_out)
  SELECT tenant_id, script_id, minute, node_id, runs, completed, failed, failed_by_code,
    http_1xx, http_2xx, http_3xx, http_4xx, http_5xx, duration_sum_ms, cpu_sum_ms, duration_hist, cpu_hist, bytes_in, bytes_out
  FROM jsonb_to_recordset($1::text::jsonb) AS r(tenant_id uuid, script_id uuid, minute timestamptz, node_id uuid, runs bigint,
    completed bigint, failed bigint, failed_by_code jsonb, http_1xx bigint, http_2xx bigint, http_3xx bigint, http_4xx bigint,
    http_5xx bigint, duration_sum_ms double precision, cpu_sum_ms double precision, duration_hist bigint[], cpu_hist bigint[],
    bytes_in bigint, bytes_out bigint)
  ON CONFLICT (tenant_id, script_id, minute, node_id) DO UPDATE SET
    runs = excluded.runs, completed = excluded.completed, failed = excluded.failed, failed_by_code = excluded.failed_by_code,
    http_1xx = excluded.http_1xx, http_2xx = excluded.http_2xx, http_3xx = excluded.http_3xx, http_4xx = excluded.http_4xx,
    http_5xx = excluded.http_5xx, duration_sum_ms = excluded.duration_sum_ms, cpu_sum_ms = excluded.cpu_sum_ms,
    duration_hist = excluded.duration_hist, cpu_hist = excluded.cpu_hist, bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out`

interface BucketRow {
  bucket: Date
  runs: string
  completed: string
  failed: string
  failed_by_code: Record<string, string | number>
  http_1xx: string
  http_2xx: string
  http_3xx: string
  http_4xx: string
  http_5xx: string
  duration_sum_ms: number
  cpu_sum_ms: number
  duration_hist: Array<string | number>
  cpu_hist: Array<string | number>
  bytes_in: string
  bytes_out: string
}

export class ExecutionRollupRepository {
  /** Writes one process's rows in one statement (system scope: many tenants). */
  async write(db: Database, nodeId: string, entries: readonly RollupEntry[]): Promise<void> {
    if (entries.length === 0) return
    const rows = entries.map(({ tenantId, scriptId, minute, counts: c }) => ({
      tenant_id: tenantId,
      script_id: scriptId,
      minute: new Date(minute).toISOString(),
      node_id: nodeId,
      runs: c.runs,
      completed: c.completed,
      failed: c.failed,
      failed_by_code: c.byCode,
      http_1xx: c.http['1xx'],
      http_2xx: c.http['2xx'],
      http_3xx: c.http['3xx'],
      http_4xx: c.http['4xx'],
      http_5xx: c.http['5xx'],
      duration_sum_ms: c.durationSumMs,
      cpu_sum_ms: c.cpuSumMs,
      duration_hist: c.durationHist,
      cpu_hist: c.cpuHist,
      bytes_in: c.bytesIn,
      bytes_out: c.bytesOut,
    }))
    await db.systemBatch(UPSERT_BATCH, JSON.stringify(rows))
  }

  /**
   * A script's counts in buckets of `stepMs` from `from` (inclusive) to `to` (exclusive), every
   * process's rows added up; only buckets with runs (the caller fills the gaps).
   */
  async buckets(tx: Tx, scriptId: string, from: Date, to: Date, stepMs: number): Promise<RollupBucket[]> {
    return this.#buckets(tx, tx`script_id = ${scriptId}`, from, to, stepMs)
  }

  /** Like `buckets`, over every script of a tenant (index execution_rollups_tenant_minute). */
  async tenantBuckets(tx: Tx, tenantId: string, from: Date, to: Date, stepMs: number): Promise<RollupBucket[]> {
    return this.#buckets(tx, tx`tenant_id = ${tenantId}`, from, to, stepMs)
  }

  async #buckets(tx: Tx, scope: postgres.Fragment, from: Date, to: Date, stepMs: number): Promise<RollupBucket[]> {
    const rows = await tx<BucketRow[]>`
      SELECT date_bin(make_interval(secs => ${stepMs / 1000}), minute, ${from}::timestamptz) AS bucket,
        sum(runs) AS runs, sum(completed) AS completed, sum(failed) AS failed, isogate_counts_sum(failed_by_code) AS failed_by_code,
        sum(http_1xx) AS http_1xx, sum(http_2xx) AS http_2xx, sum(http_3xx) AS http_3xx, sum(http_4xx) AS http_4xx, sum(http_5xx) AS http_5xx,
        sum(duration_sum_ms) AS duration_sum_ms, sum(cpu_sum_ms) AS cpu_sum_ms,
        isogate_bigint_array_sum(duration_hist) AS duration_hist, isogate_bigint_array_sum(cpu_hist) AS cpu_hist,
        sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
      FROM execution_rollups
      WHERE ${scope} AND minute >= ${from} AND minute < ${to}
      GROUP BY 1 ORDER BY 1`
    return rows.map((row) => ({ start: row.bucket, counts: countsOf(row) }))
  }

  /** Deletes up to `batchSize` rows of minutes before `cutoff` (system scope). */
  async purgeBefore(tx: Tx, cutoff: Date, batchSize: number): Promise<number> {
    const rows = await tx`
      DELETE FROM execution_rollups WHERE ctid IN (
        SELECT ctid FROM execution_rollups WHERE minute < ${cutoff} ORDER BY minute LIMIT ${batchSize})
      RETURNING 1`
    return rows.length
  }
}

function countsOf(row: BucketRow): RunCounts {
  const counts = emptyCounts()
  counts.runs = Number(row.runs)
  counts.completed = Number(row.completed)
  counts.failed = Number(row.failed)
  for (const [code, n] of Object.entries(row.failed_by_code ?? {})) counts.byCode[code] = Number(n)
  counts.http = { '1xx': Number(row.http_1xx), '2xx': Number(row.http_2xx), '3xx': Number(row.http_3xx), '4xx': Number(row.http_4xx), '5xx': Number(row.http_5xx) }
  counts.durationSumMs = Number(row.duration_sum_ms)
  counts.cpuSumMs = Number(row.cpu_sum_ms)
  for (let i = 0; i < HISTOGRAM_SIZE; i++) {
    counts.durationHist[i] = Number(row.duration_hist?.[i] ?? 0)
    counts.cpuHist[i] = Number(row.cpu_hist?.[i] ?? 0)
  }
  counts.bytesIn = Number(row.bytes_in)
  counts.bytesOut = Number(row.bytes_out)
  return counts
}
