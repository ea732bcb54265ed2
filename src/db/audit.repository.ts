import type { AuditEntry, NewAuditEntry } from '../domain/audit.js'
import type { Cursor } from '../domain/page.js'
import type { Tx } from './database.js'

interface AuditRow {
  id: string
  tenant_id: string
  actor_key_id: string | null
  actor_role: string
  action: AuditEntry['action']
  resource_type: AuditEntry['resourceType']
  resource_id: string
  before: AuditEntry['before']
  after: AuditEntry['after']
  created_at: Date
  cursor_at: string
}

const toEntry = (row: AuditRow): AuditEntry => ({
  id: row.id,
  tenantId: row.tenant_id,
  actorKeyId: row.actor_key_id,
  actorRole: row.actor_role,
  action: row.action,
  resourceType: row.resource_type,
  resourceId: row.resource_id,
  before: row.before,
  after: row.after,
  createdAt: row.created_at,
})

export interface AuditFilter {
  action?: string | undefined
  resourceId?: string | undefined
  limit: number
  after?: Cursor | undefined
}

/** The audit trail: INSERT and SELECT only (the database refuses anything else on it). */
export class AuditRepository {
  /** Written inside the transaction of the change it describes, so both happen or neither. */
  async insert(tx: Tx, entry: NewAuditEntry): Promise<void> {
    await tx`
      INSERT INTO audit_log (tenant_id, actor_key_id, actor_role, action, resource_type, resource_id, before, after)
      VALUES (${entry.tenantId}, ${entry.actorKeyId}, ${entry.actorRole}, ${entry.action}, ${entry.resourceType}, ${entry.resourceId},
        ${entry.before === null ? null : tx.json(entry.before as never)}, ${entry.after === null ? null : tx.json(entry.after as never)})`
  }

  /** Newest first; `limit + 1` rows so the caller knows whether there is a next page. */
  async list(tx: Tx, tenantId: string, filter: AuditFilter): Promise<Array<AuditEntry & { cursorAt: string }>> {
    const rows = await tx<AuditRow[]>`
      SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
      FROM audit_log
      WHERE tenant_id = ${tenantId}
        ${filter.action === undefined ? tx`` : tx`AND action = ${filter.action}`}
        ${filter.resourceId === undefined ? tx`` : tx`AND resource_id = ${filter.resourceId}`}
        ${filter.after === undefined ? tx`` : tx`AND (created_at, id) < (${filter.after.at}::text::timestamptz, ${filter.after.id}::uuid)`}
      ORDER BY created_at DESC, id DESC
      LIMIT ${filter.limit + 1}`
    return rows.map((row) => ({ ...toEntry(row), cursorAt: row.cursor_at }))
  }
}
