import type { Principal, Role } from '../domain/auth.js'
import type { Tx } from './database.js'

export interface ApiKeyRecord {
  id: string
  tenantId: string | null
  role: Role
  name: string
  createdAt: Date
}

interface ApiKeyRow {
  id: string
  tenant_id: string | null
  role: Role
  name: string
  created_at: Date
}

const toRecord = (row: ApiKeyRow): ApiKeyRecord => ({
  id: row.id,
  tenantId: row.tenant_id,
  role: row.role,
  name: row.name,
  createdAt: row.created_at,
})

export class ApiKeyRepository {
  async insert(tx: Tx, input: { tenantId: string | null; role: Role; name: string; tokenHash: string }): Promise<ApiKeyRecord> {
    const [row] = await tx<ApiKeyRow[]>`
      INSERT INTO api_keys (tenant_id, role, name, token_hash)
      VALUES (${input.tenantId}, ${input.role}, ${input.name}, ${input.tokenHash})
      RETURNING id, tenant_id, role, name, created_at`
    return toRecord(row as ApiKeyRow)
  }

  /** The live (not revoked) key with this token hash. */
  async findPrincipal(tx: Tx, tokenHash: string): Promise<Principal | null> {
    const [row] = await tx<ApiKeyRow[]>`
      SELECT id, tenant_id, role FROM api_keys WHERE token_hash = ${tokenHash} AND revoked_at IS NULL`
    return row ? { keyId: row.id, role: row.role, tenantId: row.tenant_id } : null
  }

  /** A tenant's keys, revoked ones too (never the hash), oldest first. */
  async list(tx: Tx, tenantId: string): Promise<Array<ApiKeyRecord & { revokedAt: Date | null }>> {
    const rows = await tx<Array<ApiKeyRow & { revoked_at: Date | null }>>`
      SELECT id, tenant_id, role, name, created_at, revoked_at FROM api_keys
      WHERE tenant_id = ${tenantId} ORDER BY created_at, id`
    return rows.map((row) => ({ ...toRecord(row), revokedAt: row.revoked_at }))
  }

  /** Revokes a live key of the tenant; the record of an already revoked or unknown key is null. */
  async revoke(tx: Tx, tenantId: string, id: string): Promise<ApiKeyRecord | null> {
    const [row] = await tx<ApiKeyRow[]>`
      UPDATE api_keys SET revoked_at = now()
      WHERE id = ${id} AND tenant_id = ${tenantId} AND revoked_at IS NULL
      RETURNING id, tenant_id, role, name, created_at`
    return row ? toRecord(row) : null
  }

  async countSuperadmins(tx: Tx): Promise<number> {
    const [row] = await tx<{ count: number }[]>`
      SELECT count(*)::int AS count FROM api_keys WHERE role = 'superadmin' AND revoked_at IS NULL`
    return row?.count ?? 0
  }

  /** Adds the bootstrap superadmin key unless a key with this hash exists. */
  async ensureSuperadmin(tx: Tx, name: string, tokenHash: string): Promise<void> {
    await tx`
      INSERT INTO api_keys (tenant_id, role, name, token_hash) VALUES (NULL, 'superadmin', ${name}, ${tokenHash})
      ON CONFLICT (token_hash) DO NOTHING`
  }
}
