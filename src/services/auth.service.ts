import { createHash, randomBytes } from 'node:crypto'
import type { ApiKeyRepository, ApiKeyView } from '../db/api-key.repository.js'
import { AuditRepository } from '../db/audit.repository.js'
import { auditEntry } from '../domain/audit.js'
import { isUuid } from '../domain/page.js'
import type { Database } from '../db/database.js'
import { ROLES, can, type Permission, type Principal, type Role } from '../domain/auth.js'
import { AppError } from '../errors.js'

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** API tokens: a recognisable prefix and 32 random bytes. */
export function generateToken(): string {
  return `igk_${randomBytes(32).toString('base64url')}`
}

/** The audit trail's tenant for what belongs to no tenant (superadmin keys). */
export const PLATFORM_AUDIT_TENANT = '00000000-0000-0000-0000-000000000000'

const BOOTSTRAP_LOCK = 7_311_900_130

/** Who a key is: `GET /api/v1/whoami`. */
export interface Identity {
  key: { id: string; name: string; createdAt: Date; expiresAt: Date | null } | null
  role: Role
  tenant: { id: string; slug: string; name: string; status: string } | null
}

export class AuthService {
  readonly #db: Database
  readonly #keys: ApiKeyRepository
  readonly #audit: AuditRepository

  constructor(db: Database, keys: ApiKeyRepository, audit: AuditRepository = new AuditRepository()) {
    this.#db = db
    this.#keys = keys
    this.#audit = audit
  }

  /** The principal behind a bearer token, or UNAUTHORIZED (unknown, revoked or expired). */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new AppError('UNAUTHORIZED')
    const principal = await this.#db.system((tx) => this.#keys.findPrincipal(tx, hashToken(token)))
    if (principal === null) throw new AppError('UNAUTHORIZED', 'The API key is not valid (unknown, revoked or expired)')
    return principal
  }

  /**
   * Makes sure a superadmin key exists. A configured token is the one live ISOGATE_ADMIN_TOKEN
   * key: a new value revokes the previous value's key; unset, the last one stays. With none
   * configured, a token is generated on the first start only (no superadmin key ever made) and
   * returned so the caller can show it once; it is an ordinary key, revocable through the API.
   */
  async bootstrap(configuredToken: string | undefined): Promise<{ generated: string | null; envKey?: 'created' | 'kept' | 'restored' | 'revoked' }> {
    return this.#db.system(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`
      if (configuredToken !== undefined) {
        const envKey = await this.#keys.rotateEnvKey(tx, 'bootstrap (ISOGATE_ADMIN_TOKEN)', hashToken(configuredToken))
        return { generated: null, envKey }
      }
      if (await this.#keys.anySuperadminEver(tx)) return { generated: null }
      const token = generateToken()
      await this.#keys.insert(tx, { tenantId: null, role: 'superadmin', name: 'bootstrap (generated)', tokenHash: hashToken(token), origin: 'generated' })
      return { generated: token }
    })
  }

  /** The key behind a principal, its role and its tenant. */
  async whoami(principal: Principal): Promise<Identity> {
    return this.#db.system(async (tx) => {
      const key = principal.keyId === null ? null : await this.#keys.findById(tx, principal.keyId)
      const [tenant] = principal.tenantId === null ? [] : await tx<Array<{ id: string; slug: string; name: string; status: string }>>`SELECT id, slug, name, status FROM tenants WHERE id = ${principal.tenantId}`
      return {
        key: key === null ? null : { id: key.id, name: key.name, createdAt: key.createdAt, expiresAt: key.expiresAt },
        role: principal.role,
        tenant: tenant ?? null,
      }
    })
  }

  /** Creates a key for a tenant; the token is answered once and stored only as a hash. */
  async createKey(principal: Principal, tenantId: string, input: { role: Role; name: string; expiresAt?: Date | null | undefined }): Promise<{ id: string; token: string; role: Role; name: string; expiresAt: Date | null }> {
    requireRole(principal, ['superadmin', 'admin'])
    if (principal.role !== 'superadmin' && principal.tenantId !== tenantId) throw new AppError('TENANT_NOT_FOUND')
    if (!ROLES.includes(input.role) || input.role === 'superadmin') {
      throw new AppError('VALIDATION_FAILED', 'role must be admin, developer or viewer', { fields: [{ field: 'role', message: 'must be admin, developer or viewer' }] })
    }
    checkExpiry(input.expiresAt)
    const token = generateToken()
    const record = await this.#db.tenant(tenantId, async (tx) => {
      const key = await this.#keys.insert(tx, { tenantId, role: input.role, name: input.name, tokenHash: hashToken(token), expiresAt: input.expiresAt ?? null })
      await this.#audit.insert(tx, auditEntry(principal, tenantId, 'key.create', { type: 'api_key', id: key.id }, null, { role: key.role, name: key.name, expiresAt: key.expiresAt }))
      return key
    })
    return { id: record.id, token, role: record.role, name: record.name, expiresAt: record.expiresAt }
  }

  /** A tenant's keys, revoked ones included; never a token or its hash. */
  async listKeys(principal: Principal, tenantId: string): Promise<ApiKeyView[]> {
    requireRole(principal, ['superadmin', 'admin'])
    if (principal.role !== 'superadmin' && principal.tenantId !== tenantId) throw new AppError('TENANT_NOT_FOUND')
    return this.#db.tenant(tenantId, (tx) => this.#keys.list(tx, tenantId))
  }

  /** Revokes a key at once: its next request answers 401. An unknown or revoked key is 404. */
  async revokeKey(principal: Principal, tenantId: string, keyId: string): Promise<void> {
    requireRole(principal, ['superadmin', 'admin'])
    if (principal.role !== 'superadmin' && principal.tenantId !== tenantId) throw new AppError('TENANT_NOT_FOUND')
    if (!isUuid(keyId)) throw new AppError('KEY_NOT_FOUND')
    await this.#db.tenant(tenantId, async (tx) => {
      const key = await this.#keys.revoke(tx, tenantId, keyId)
      if (key === null) throw new AppError('KEY_NOT_FOUND')
      await this.#audit.insert(tx, auditEntry(principal, tenantId, 'key.revoke', { type: 'api_key', id: key.id }, { role: key.role, name: key.name, revoked: false }, { role: key.role, name: key.name, revoked: true }))
    })
  }

  /** Superadmin keys, revoked and expired ones too (the bootstrap keys among them, by origin). */
  async listSuperadminKeys(principal: Principal): Promise<ApiKeyView[]> {
    requireRole(principal, ['superadmin'])
    return this.#db.system((tx) => this.#keys.list(tx, null))
  }

  /** A new superadmin key; the token is answered once. */
  async createSuperadminKey(principal: Principal, input: { name: string; expiresAt?: Date | null | undefined }): Promise<{ id: string; token: string; role: Role; name: string; expiresAt: Date | null }> {
    requireRole(principal, ['superadmin'])
    checkExpiry(input.expiresAt)
    const token = generateToken()
    const record = await this.#db.system(async (tx) => {
      const key = await this.#keys.insert(tx, { tenantId: null, role: 'superadmin', name: input.name, tokenHash: hashToken(token), expiresAt: input.expiresAt ?? null })
      await this.#audit.insert(tx, auditEntry(principal, PLATFORM_AUDIT_TENANT, 'key.create', { type: 'api_key', id: key.id }, null, { role: key.role, name: key.name, expiresAt: key.expiresAt }))
      return key
    })
    return { id: record.id, token, role: record.role, name: record.name, expiresAt: record.expiresAt }
  }

  /** Revokes a superadmin key (the generated first-start one too); the last live one is kept (409). */
  async revokeSuperadminKey(principal: Principal, keyId: string): Promise<void> {
    requireRole(principal, ['superadmin'])
    if (!isUuid(keyId)) throw new AppError('KEY_NOT_FOUND')
    await this.#db.system(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`
      const key = await this.#keys.revoke(tx, null, keyId)
      if (key === null) throw new AppError('KEY_NOT_FOUND')
      if ((await this.#keys.countSuperadmins(tx)) === 0) throw new AppError('LAST_SUPERADMIN_KEY')
      await this.#audit.insert(tx, auditEntry(principal, PLATFORM_AUDIT_TENANT, 'key.revoke', { type: 'api_key', id: key.id }, { role: key.role, name: key.name, revoked: false }, { role: key.role, name: key.name, revoked: true }))
    })
  }
}

function checkExpiry(expiresAt: Date | null | undefined): void {
  if (expiresAt instanceof Date && expiresAt.getTime() <= Date.now()) {
    throw new AppError('VALIDATION_FAILED', 'expiresAt: must be in the future', { fields: [{ field: 'expiresAt', message: 'must be in the future' }] })
  }
}

/** Checked at the route and again in the service (defence in depth). */
export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission)) throw new AppError('FORBIDDEN', `This API key (role ${principal.role}) lacks ${permission}`)
}

export function requireRole(principal: Principal, roles: readonly Role[]): void {
  if (!roles.includes(principal.role)) throw new AppError('FORBIDDEN', `This action needs the role ${roles.join(' or ')}`)
}
