import type { Cursor } from '../domain/page.js'
import type { Tenant, TenantStatus } from '../domain/tenant.js'
import type { QuotaOverrides } from '../domain/tenant-quota.js'
import type { Tx } from './database.js'

interface TenantRow {
  id: string
  slug: string
  name: string
  status: TenantStatus
  created_at: Date
  updated_at: Date
}

const toTenant = (row: TenantRow): Tenant => ({ id: row.id, slug: row.slug, name: row.name, status: row.status, createdAt: row.created_at, updatedAt: row.updated_at })

/** What a tenant's scripts ask for now: the quota may not go below it. */
export interface TenantScriptUsage {
  scripts: number
  /** The largest explicit limit of any script, per limit (null: no script sets it). */
  limits: Record<'timeoutMs' | 'cpuMs' | 'memoryMb' | 'apiCalls' | 'outputBytes', number | null>
  /** The largest current source, in bytes. */
  sourceBytes: number
}

export class TenantRepository {
  async insert(tx: Tx, input: { slug: string; name: string }): Promise<Tenant> {
    const [row] = await tx<TenantRow[]>`INSERT INTO tenants (slug, name) VALUES (${input.slug}, ${input.name}) RETURNING *`
    return toTenant(row as TenantRow)
  }

  async findBySlug(tx: Tx, slug: string): Promise<Tenant | null> {
    const [row] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE slug = ${slug}`
    return row ? toTenant(row) : null
  }

  async findById(tx: Tx, id: string): Promise<Tenant | null> {
    const [row] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE id = ${id}`
    return row ? toTenant(row) : null
  }

  /** Every tenant's id and slug: the data plane knows tenants that serve no route yet. */
  async allSlugs(tx: Tx): Promise<Array<{ id: string; slug: string }>> {
    return tx<Array<{ id: string; slug: string }>>`SELECT id, slug FROM tenants`
  }

  /** The tenant, locked until the transaction ends (status changes and deletes take turns). */
  async lockBySlug(tx: Tx, slug: string): Promise<Tenant | null> {
    const [row] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE slug = ${slug} FOR UPDATE`
    return row ? toTenant(row) : null
  }

  /** Newest first, keyset on (created_at, id); `limit + 1` rows so the caller sees a next page. */
  async list(tx: Tx, page: { limit: number; after?: Cursor | undefined; status?: TenantStatus | undefined }): Promise<Array<Tenant & { cursorAt: string }>> {
    const rows = await tx<Array<TenantRow & { cursor_at: string }>>`
      SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at FROM tenants
      WHERE true
        ${page.status === undefined ? tx`` : tx`AND status = ${page.status}`}
        ${page.after === undefined ? tx`` : tx`AND (created_at, id) < (${page.after.at}::text::timestamptz, ${page.after.id}::uuid)`}
      ORDER BY created_at DESC, id DESC
      LIMIT ${page.limit + 1}`
    return rows.map((row) => ({ ...toTenant(row), cursorAt: row.cursor_at }))
  }

  async count(tx: Tx): Promise<number> {
    const [row] = await tx<Array<{ count: number }>>`SELECT count(*)::int AS count FROM tenants`
    return row?.count ?? 0
  }

  async update(tx: Tx, id: string, fields: { name: string; status: TenantStatus }): Promise<Tenant> {
    const [row] = await tx<TenantRow[]>`
      UPDATE tenants SET name = ${fields.name}, status = ${fields.status}, updated_at = now() WHERE id = ${id} RETURNING *`
    return toTenant(row as TenantRow)
  }

  /**
   * Deletes the tenant row; every tenant-owned table goes with it (foreign keys cascade, and a
   * trigger takes the executions, which have no foreign key).
   */
  async delete(tx: Tx, id: string): Promise<void> {
    await tx`DELETE FROM tenants WHERE id = ${id}`
  }

  /** One batch of a tenant's execution records, before the tenant row goes (a large history is not one statement). */
  async deleteExecutions(tx: Tx, id: string, batchSize: number): Promise<number> {
    const rows = await tx`
      DELETE FROM executions WHERE id IN (SELECT id FROM executions WHERE tenant_id = ${id} LIMIT ${batchSize}) RETURNING 1`
    return rows.length
  }

  /** The operator's overrides of every tenant, or of one. */
  async quotas(tx: Tx, tenantId?: string): Promise<Map<string, QuotaOverrides>> {
    const rows = await tx<Array<{ tenant_id: string; quota: QuotaOverrides }>>`
      SELECT tenant_id, quota FROM tenant_quotas ${tenantId === undefined ? tx`` : tx`WHERE tenant_id = ${tenantId}`}`
    return new Map(rows.map((row) => [row.tenant_id, row.quota]))
  }

  async setQuota(tx: Tx, tenantId: string, quota: QuotaOverrides): Promise<void> {
    await tx`
      INSERT INTO tenant_quotas (tenant_id, quota) VALUES (${tenantId}, ${tx.json(quota)})
      ON CONFLICT (tenant_id) DO UPDATE SET quota = EXCLUDED.quota, updated_at = now()`
  }

  /** What the tenant's scripts ask for now (for a quota that must not go below it). */
  async scriptUsage(tx: Tx, tenantId: string): Promise<TenantScriptUsage> {
    const [row] = await tx<Array<{ scripts: number; timeout_ms: number | null; cpu_ms: number | null; memory_mb: number | null; api_calls: number | null; output_bytes: number | null; source_bytes: number | null }>>`
      SELECT count(*)::int AS scripts,
        max((s.limits ->> 'timeoutMs')::float8) AS timeout_ms, max((s.limits ->> 'cpuMs')::float8) AS cpu_ms,
        max((s.limits ->> 'memoryMb')::float8) AS memory_mb, max((s.limits ->> 'apiCalls')::float8) AS api_calls,
        max((s.limits ->> 'outputBytes')::float8) AS output_bytes, max(octet_length(v.source))::int AS source_bytes
      FROM scripts s LEFT JOIN script_versions v ON v.script_id = s.id AND v.version = s.version
      WHERE s.tenant_id = ${tenantId}`
    return {
      scripts: row?.scripts ?? 0,
      limits: {
        timeoutMs: row?.timeout_ms ?? null,
        cpuMs: row?.cpu_ms ?? null,
        memoryMb: row?.memory_mb ?? null,
        apiCalls: row?.api_calls ?? null,
        outputBytes: row?.output_bytes ?? null,
      },
      sourceBytes: row?.source_bytes ?? 0,
    }
  }

  async countScripts(tx: Tx, tenantId: string): Promise<number> {
    const [row] = await tx<Array<{ count: number }>>`SELECT count(*)::int AS count FROM scripts WHERE tenant_id = ${tenantId}`
    return row?.count ?? 0
  }

  /** Bytes of the tenant's ctx.db documents. */
  async dbBytes(tx: Tx, tenantId: string): Promise<number> {
    const [row] = await tx<Array<{ db_bytes: string }>>`SELECT db_bytes FROM tenant_usage WHERE tenant_id = ${tenantId}`
    return row === undefined ? 0 : Number(row.db_bytes)
  }

  /** Writes the first-start marker; true only the first time (on a database that never had one). */
  async markFirstStart(tx: Tx): Promise<boolean> {
    const rows = await tx`INSERT INTO isogate_state (key, value) VALUES ('first-start', to_jsonb(now())) ON CONFLICT (key) DO NOTHING RETURNING 1`
    return rows.length === 1
  }
}
