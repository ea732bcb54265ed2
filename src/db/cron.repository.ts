import type { Script } from '../domain/script.js'
import type { Tx } from './database.js'

/** A scheduled script whose slot is due, with what running it needs. */
export interface DueCron {
  scriptId: string
  tenantId: string
  version: number
  expression: string
  timezone: string
  nextRunAt: Date
  limits: Script['limits']
  env: Record<string, string>
  source: string
  sourceHash: string
}

export type FireStatus = 'running' | 'completed' | 'failed' | 'timeout' | 'skipped'

export interface CronFire {
  scriptId: string
  tenantId: string
  scheduledAt: Date
  executionId: string
  status: FireStatus
  reason: string | null
  missed: number
  claimedBy: string
  leaseUntil: Date | null
}

export interface CronPlan {
  nextRunAt: Date | null
  lastRunAt: Date | null
  lastRunStatus: string | null
}

/** The cron scheduler's queries. Call in system scope: one scheduler serves every tenant. */
export class CronRepository {
  /** Active scheduled scripts with no plan yet (new, changed, resumed), locked for planning. */
  async unplanned(tx: Tx, limit: number): Promise<Array<{ id: string; expression: string; timezone: string }>> {
    const rows = await tx<Array<{ id: string; cron_expression: string; cron_timezone: string | null }>>`
      SELECT id, cron_expression, cron_timezone FROM scripts
      WHERE type = 'scheduled' AND status = 'active' AND next_run_at IS NULL AND cron_expression IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = scripts.tenant_id AND t.status = 'suspended')
      ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED`
    return rows.map((row) => ({ id: row.id, expression: row.cron_expression, timezone: row.cron_timezone ?? 'UTC' }))
  }

  async setNextRun(tx: Tx, scriptId: string, next: Date | null): Promise<void> {
    await tx`UPDATE scripts SET next_run_at = ${next} WHERE id = ${scriptId}`
  }

  /**
   * Due scripts, locked: another process skips them (SKIP LOCKED) and, once this transaction
   * has moved next_run_at on, no longer sees them due.
   */
  async due(tx: Tx, now: Date, limit: number): Promise<DueCron[]> {
    const rows = await tx<
      Array<{ id: string; tenant_id: string; version: number; cron_expression: string; cron_timezone: string | null; next_run_at: Date; limits: Script['limits']; env: Record<string, string>; source: string; source_hash: string }>
    >`
      SELECT s.id, s.tenant_id, s.version, s.cron_expression, s.cron_timezone, s.next_run_at, s.limits, s.env || s.secrets AS env, v.source, v.source_hash
      FROM scripts s JOIN script_versions v ON v.script_id = s.id AND v.version = s.version
      WHERE s.type = 'scheduled' AND s.status = 'active' AND s.next_run_at <= ${now}
        -- A suspended tenant's schedules wait; its resume plans them from then.
        AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = s.tenant_id AND t.status = 'suspended')
      ORDER BY s.next_run_at LIMIT ${limit}
      FOR UPDATE OF s SKIP LOCKED`
    return rows.map((row) => ({
      scriptId: row.id,
      tenantId: row.tenant_id,
      version: row.version,
      expression: row.cron_expression,
      timezone: row.cron_timezone ?? 'UTC',
      nextRunAt: row.next_run_at,
      limits: row.limits,
      env: row.env,
      source: row.source,
      sourceHash: row.source_hash,
    }))
  }

  /** Fires still marked running past their lease: their process stopped. Marks them failed. */
  async abandonExpired(tx: Tx, scriptId: string, now: Date): Promise<Array<{ scheduledAt: Date; executionId: string; claimedBy: string }>> {
    const rows = await tx<Array<{ scheduled_at: Date; execution_id: string; claimed_by: string }>>`
      UPDATE cron_fires SET status = 'failed', reason = 'abandoned', finished_at = ${now}
      WHERE script_id = ${scriptId} AND status = 'running' AND lease_until <= ${now}
      RETURNING scheduled_at, execution_id, claimed_by`
    return rows.map((row) => ({ scheduledAt: row.scheduled_at, executionId: row.execution_id, claimedBy: row.claimed_by }))
  }

  async hasRunning(tx: Tx, scriptId: string): Promise<boolean> {
    const [row] = await tx`SELECT 1 FROM cron_fires WHERE script_id = ${scriptId} AND status = 'running' LIMIT 1`
    return row !== undefined
  }

  /** The claim: false when this (script, slot) was claimed already. */
  async insertFire(tx: Tx, fire: CronFire, now: Date): Promise<boolean> {
    const rows = await tx`
      INSERT INTO cron_fires (script_id, scheduled_at, tenant_id, execution_id, status, reason, missed, claimed_by, claimed_at, lease_until, finished_at)
      VALUES (${fire.scriptId}, ${fire.scheduledAt}, ${fire.tenantId}, ${fire.executionId}, ${fire.status}, ${fire.reason},
        ${fire.missed}, ${fire.claimedBy}, ${now}, ${fire.leaseUntil}, ${fire.status === 'running' ? null : now})
      ON CONFLICT (script_id, scheduled_at) DO NOTHING
      RETURNING 1`
    return rows.length === 1
  }

  async markStarted(tx: Tx, scriptId: string, at: Date): Promise<void> {
    await tx`UPDATE scripts SET last_run_at = ${at}, last_run_status = 'running' WHERE id = ${scriptId}`
  }

  /** Records how a fire ended, on the fire and (unless a later fire started since) on the script. */
  async finish(tx: Tx, fire: { scriptId: string; scheduledAt: Date; startedAt: Date; status: FireStatus }, now: Date): Promise<void> {
    await tx`
      UPDATE cron_fires SET status = ${fire.status}, finished_at = ${now}
      WHERE script_id = ${fire.scriptId} AND scheduled_at = ${fire.scheduledAt} AND status = 'running'`
    await tx`
      UPDATE scripts SET last_run_status = ${fire.status}
      WHERE id = ${fire.scriptId} AND last_run_at = ${fire.startedAt}`
  }

  /** When the scheduler next has work: the earliest planned slot of any active scheduled script. */
  async earliest(tx: Tx): Promise<Date | null> {
    const [row] = await tx<Array<{ next: Date | null }>>`
      SELECT min(next_run_at) AS next FROM scripts s WHERE type = 'scheduled' AND status = 'active' AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = s.tenant_id AND t.status = 'suspended')`
    return row?.next ?? null
  }

  async plan(tx: Tx, scriptId: string): Promise<CronPlan | null> {
    const [row] = await tx<Array<{ next_run_at: Date | null; last_run_at: Date | null; last_run_status: string | null }>>`
      SELECT next_run_at, last_run_at, last_run_status FROM scripts WHERE id = ${scriptId}`
    return row ? { nextRunAt: row.next_run_at, lastRunAt: row.last_run_at, lastRunStatus: row.last_run_status } : null
  }
}
