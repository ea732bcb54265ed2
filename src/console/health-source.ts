import type { Database } from '../db/database.js'
import type { Principal } from '../domain/auth.js'
import type { Tenant } from '../domain/tenant.js'
import { requirePermission } from '../services/auth.service.js'

/** One minute of a tenant's (or one script's) runs. */
export interface MinuteStats {
  minute: Date
  runs: number
  /** Failed runs by error code (a failure with no code counts as UNKNOWN). */
  errors: Record<string, number>
  p50Ms: number | null
  p99Ms: number | null
  cpuP50Ms: number | null
  cpuP99Ms: number | null
}

export interface HealthWindow {
  scriptId?: string | undefined
  from: Date
  to: Date
}

/**
 * Where the console's health charts come from. Today: the execution records. When per-minute
 * rollups exist (issue 15), an implementation reading them replaces this one behind the same
 * interface; nothing else in the console changes.
 */
export interface HealthSource {
  minutes(principal: Principal, tenant: Tenant, window: HealthWindow): Promise<MinuteStats[]>
}

/**
 * Per-minute stats computed from `executions` (tail sampling may record only part of the
 * successes; rollups will be exact). Uses the (tenant_id, created_at) and (tenant_id,
 * script_id, created_at) indexes.
 */
export class ExecutionHealthSource implements HealthSource {
  readonly #db: Database

  constructor(db: Database) {
    this.#db = db
  }

  async minutes(principal: Principal, tenant: Tenant, window: HealthWindow): Promise<MinuteStats[]> {
    requirePermission(principal, 'scripts.read')
    // Two statement shapes, not `$1 IS NULL OR script_id = $1`: a generic plan of that could not use the script index.
    const scriptId = window.scriptId ?? null
    const rows = await this.#db.tenant(tenant.id, (tx) =>
      tx<Array<{ minute: Date; runs: number; errors: Record<string, number> | null; p50: number | null; p99: number | null; cpu50: number | null; cpu99: number | null }>>`
        WITH runs AS (
          SELECT date_trunc('minute', created_at) AS minute, status, error, duration_ms, cpu_ms
          FROM executions
          WHERE tenant_id = ${tenant.id} AND created_at >= ${window.from} AND created_at < ${window.to}
            ${scriptId === null ? tx`` : tx`AND script_id = ${scriptId}`}
            AND status NOT IN ('pending', 'running')
        ), codes AS (
          SELECT minute, jsonb_object_agg(code, n) AS errors FROM (
            SELECT minute, coalesce(error->>'code', 'UNKNOWN') AS code, count(*)::int AS n
            FROM runs WHERE status IN ('failed', 'timeout', 'cancelled') GROUP BY 1, 2
          ) grouped GROUP BY minute
        )
        SELECT r.minute, count(*)::int AS runs, c.errors,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms) AS p50,
          percentile_cont(0.99) WITHIN GROUP (ORDER BY r.duration_ms) AS p99,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY r.cpu_ms) AS cpu50,
          percentile_cont(0.99) WITHIN GROUP (ORDER BY r.cpu_ms) AS cpu99
        FROM runs r LEFT JOIN codes c USING (minute)
        GROUP BY r.minute, c.errors ORDER BY r.minute`,
    )
    return rows.map((row) => ({
      minute: row.minute,
      runs: row.runs,
      errors: row.errors ?? {},
      p50Ms: row.p50,
      p99Ms: row.p99,
      cpuP50Ms: row.cpu50,
      cpuP99Ms: row.cpu99,
    }))
  }
}
