import type { Principal, Role } from '../domain/auth.js'
import type { Tx } from './database.js'

export interface ApiKeyRecord {
  id: string
  tenantId: string | null
  role: Role
  name: string
  createdAt: Date
  /** When the key stops working (null: never). */
  expiresAt: Date | null
}

/** A key as lists show it: never the token or its hash. */
export type ApiKeyView = ApiKeyRecord & { revokedAt: Date | null; origin: 'env' | 'generated' | null }

interface ApiKeyRow {
  id: string
  tenant_id: string | null
  role: Role
  name: string
  created_at: Date
  expires_at: Date | null
}

const toRecord = (row: ApiKeyRow): ApiKeyRecord => ({
  id: row.id,
  tenantId: row.tenant_id,
  role: row.role,
  name: row.name,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
})

const toView = (row: ApiKeyRow & { revoked_at: Date | null; origin: 'env' | 'generated' | null }): ApiKeyView => ({ ...toRecord(row), revokedAt: row.revoked_at, origin: row.origin })

export class ApiKeyRepository {
  async insert(tx: Tx, input: { tenantId: string | null; role: Role; name: string; tokenHash: string; expiresAt?: Date | null; origin?: 'env' | 'generated' | null }): Promise<ApiKeyRecord> {
    const [row] = await tx<ApiKeyRow[]>`
      INSERT INTO api_keys (tenant_id, role, name, token_hash, expires_at, origin)
      VALUES (${input.tenantId}, ${input.role}, ${input.name}, ${input.tokenHash}, ${input.expiresAt ?? null}, ${input.origin ?? null})
      RETURNING id, tenant_id, role, name, created_at, expires_at`
    return toRecord(row as ApiKeyRow)
  }

  /** The live key with this token hash: not revoked, not expired. */
  async findPrincipal(tx: Tx, tokenHash: string): Promise<Principal | null> {
    const [row] = await tx<ApiKeyRow[]>`
      SELECT id, tenant_id, role FROM api_keys
      WHERE token_hash = ${tokenHash} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`
    return row ? { keyId: row.id, role: row.role, tenantId: row.tenant_id } : null
  }

  async findById(tx: Tx, id: string): Promise<ApiKeyView | null> {
    const [row] = await tx<Array<ApiKeyRow & { revoked_at: Date | null; origin: 'env' | 'generated' | null }>>`
      SELECT id, tenant_id, role, name, created_at, expires_at, revoked_at, origin FROM api_keys WHERE id = ${id}`
    return row ? toView(row) : null
  }

  /** A tenant's keys (null: the superadmin keys), revoked ones too (never the hash), oldest first. */
  async list(tx: Tx, tenantId: string | null): Promise<ApiKeyView[]> {
    const rows = await tx<Array<ApiKeyRow & { revoked_at: Date | null; origin: 'env' | 'generated' | null }>>`
      SELECT id, tenant_id, role, name, created_at, expires_at, revoked_at, origin FROM api_keys
      WHERE ${tenantId === null ? tx`tenant_id IS NULL` : tx`tenant_id = ${tenantId}`} ORDER BY created_at, id`
    return rows.map(toView)
  }

  /** Revokes a live key of the tenant (null: a superadmin key); the record of an already revoked or unknown key is null. */
  async revoke(tx: Tx, tenantId: string | null, id: string): Promise<ApiKeyRecord | null> {
    const [row] = await tx<ApiKeyRow[]>`
      UPDATE api_keys SET revoked_at = now(), revoked_reason = 'revoked'
      WHERE id = ${id} AND ${tenantId === null ? tx`tenant_id IS NULL` : tx`tenant_id = ${tenantId}`} AND revoked_at IS NULL
      RETURNING id, tenant_id, role, name, created_at, expires_at`
    return row ? toRecord(row) : null
  }

  /** Live (not revoked, not expired) superadmin keys. */
  async countSuperadmins(tx: Tx): Promise<number> {
    const [row] = await tx<{ count: number }[]>`
      SELECT count(*)::int AS count FROM api_keys
      WHERE role = 'superadmin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`
    return row?.count ?? 0
  }

  /** Whether any superadmin key was ever made (revoked ones count: a first start makes one). */
  async anySuperadminEver(tx: Tx): Promise<boolean> {
    const [row] = await tx`SELECT 1 FROM api_keys WHERE role = 'superadmin' LIMIT 1`
    return row !== undefined
  }

  /**
   * Makes `tokenHash` the one live ISOGATE_ADMIN_TOKEN key: other live env keys are revoked
   * ('rotated'); a key with this hash revoked by rotation comes back; one revoked through the API
   * stays revoked (answers 'revoked'). Call under a lock (N processes start together).
   */
  async rotateEnvKey(tx: Tx, name: string, tokenHash: string): Promise<'created' | 'kept' | 'restored' | 'revoked'> {
    await tx`
      UPDATE api_keys SET revoked_at = now(), revoked_reason = 'rotated'
      WHERE origin = 'env' AND revoked_at IS NULL AND token_hash <> ${tokenHash}`
    const [existing] = await tx<Array<{ id: string; revoked_at: Date | null; revoked_reason: string | null }>>`
      SELECT id, revoked_at, revoked_reason FROM api_keys WHERE token_hash = ${tokenHash}`
    if (existing === undefined) {
      await this.insert(tx, { tenantId: null, role: 'superadmin', name, tokenHash, origin: 'env' })
      return 'created'
    }
    if (existing.revoked_at === null) return 'kept'
    if (existing.revoked_reason !== 'rotated') return 'revoked'
    await tx`UPDATE api_keys SET revoked_at = NULL, revoked_reason = NULL WHERE id = ${existing.id}`
    return 'restored'
  }
}
