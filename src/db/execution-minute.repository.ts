import { emptyCounts, HISTOGRAM_BOUNDS_MS, HISTOGRAM_SIZE, MINUTE_MS } from '../domain/execution-rollup.js'
import type { RollupBucket } from './execution-rollup.repository.js'
import type { Tx } from './database.js'

/** Which runs of a tenant, in which minutes. */
export interface MinuteScope {
  tenantId: string
  /** One script, or every script of the tenant. */
  scriptId?: string | undefined
  /** Whole minutes: `from` inclusive, `to` exclusive. */
  from: Date
  to: Date
}

/**
 * The histogram bounds negated and ascending, for `width_bucket`: the number of these at or below
 * `-v` is the number of bounds at or above `v`, so `HISTOGRAM_BOUNDS_MS.length` minus it is the
 * number of bounds below `v`, which is `bucketOf(v)` (a value on a bound is in that bound's bucket).
 */
const NEGATED_BOUNDS = `{${[...HISTOGRAM_BOUNDS_MS].reverse().map((bound) => -bound).join(',')}}`

interface PartRow {
  minute: Date
  kind: 'status' | 'code' | 'duration' | 'cpu' | 'sum'
  key: string
  n: number
}

/**
 * Per-minute counts of runs from the execution records, in the rollups' shape (the same fixed
 * histograms), for the runs the rollups do not count: the rollups count HTTP runs only
 * (ExecutionRecorder.recordHttp), so every manual, cron and event run comes from here (those are
 * recorded in full), and an HTTP script's records only when it has no rollup in the window (runs
 * from before the rollups existed, or from the seconds before a gateway's first write of them).
 * A record counts in the minute it was created; pending, running and skipped ones do not count.
 */
export class ExecutionMinuteRepository {
  async unrolled(tx: Tx, scope: MinuteScope): Promise<RollupBucket[]> {
    const { tenantId, scriptId, from, to } = scope
    // Two statement shapes, not `$1 IS NULL OR script_id = $1`: a generic plan of that could not use the script index.
    const rows = await tx<PartRow[]>`
      WITH runs AS (
        SELECT date_trunc('minute', e.created_at) AS minute, e.status, e.error->>'code' AS code,
          greatest(coalesce(e.duration_ms, 0), 0) AS d, greatest(coalesce(e.cpu_ms, 0), 0) AS c
        FROM executions e
        WHERE e.tenant_id = ${tenantId} AND e.created_at >= ${from} AND e.created_at < ${to}
          ${scriptId === undefined ? tx`` : tx`AND e.script_id = ${scriptId}`}
          AND e.status IN ('completed', 'failed', 'timeout', 'cancelled')
          AND (e.trigger <> 'http' OR NOT EXISTS (
            SELECT 1 FROM execution_rollups r
            WHERE r.tenant_id = e.tenant_id AND r.script_id = e.script_id AND r.minute >= ${from} AND r.minute < ${to}))
      )
      SELECT minute, 'status' AS kind, status AS key, count(*)::float8 AS n FROM runs GROUP BY 1, 3
      UNION ALL
      SELECT minute, 'code', coalesce(code, 'UNKNOWN'), count(*)::float8 FROM runs WHERE status <> 'completed' GROUP BY 1, 3
      UNION ALL
      SELECT minute, 'duration', (${HISTOGRAM_BOUNDS_MS.length} - width_bucket(-d, ${NEGATED_BOUNDS}::text::float8[]))::text, count(*)::float8 FROM runs GROUP BY 1, 3
      UNION ALL
      SELECT minute, 'cpu', (${HISTOGRAM_BOUNDS_MS.length} - width_bucket(-c, ${NEGATED_BOUNDS}::text::float8[]))::text, count(*)::float8 FROM runs GROUP BY 1, 3
      UNION ALL
      SELECT minute, 'sum', 'duration', sum(d) FROM runs GROUP BY 1
      UNION ALL
      SELECT minute, 'sum', 'cpu', sum(c) FROM runs GROUP BY 1`
    const byMinute = new Map<number, RollupBucket>()
    for (const row of rows) {
      const at = row.minute.getTime() - (row.minute.getTime() % MINUTE_MS)
      let bucket = byMinute.get(at)
      if (bucket === undefined) {
        bucket = { start: new Date(at), counts: emptyCounts() }
        byMinute.set(at, bucket)
      }
      const counts = bucket.counts
      const n = Number(row.n)
      if (row.kind === 'status') {
        counts.runs += n
        if (row.key === 'completed') counts.completed += n
        else counts.failed += n
      } else if (row.kind === 'code') counts.byCode[row.key] = (counts.byCode[row.key] ?? 0) + n
      else if (row.kind === 'duration' || row.kind === 'cpu') {
        const hist = row.kind === 'duration' ? counts.durationHist : counts.cpuHist
        const index = Math.min(Math.max(Number(row.key), 0), HISTOGRAM_SIZE - 1)
        hist[index] = (hist[index] ?? 0) + n
      } else if (row.key === 'duration') counts.durationSumMs += n
      else counts.cpuSumMs += n
    }
    return [...byMinute.values()].sort((a, b) => a.start.getTime() - b.start.getTime())
  }
}
