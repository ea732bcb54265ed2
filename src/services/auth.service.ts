import { createHash, randomBytes } from 'node:crypto'
import type { ApiKeyRecord, ApiKeyRepository } from '../db/api-key.repository.js'
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

export class AuthService {
  readonly #db: Database
  readonly #keys: ApiKeyRepository
  readonly #audit: AuditRepository

  constructor(db: Database, keys: ApiKeyRepository, audit: AuditRepository = new AuditRepository()) {
    this.#db = db
    this.#keys = keys
    this.#audit = audit
  }

  /** The principal behind a bearer token, or UNAUTHORIZED. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new AppError('UNAUTHORIZED')
    const principal = await this.#db.system((tx) => this.#keys.findPrincipal(tx, hashToken(token)))
    if (principal === null) throw new AppError('UNAUTHORIZED', 'The API key is not valid')
    return principal
  }

  /**
   * Makes sure a superadmin key exists. A configured token is registered (hashed); with none
   * and no superadmin yet, a token is generated and returned so the caller can show it once.
   */
  async bootstrap(configuredToken: string | undefined): Promise<{ generated: string | null }> {
    if (configuredToken !== undefined) {
      await this.#db.system((tx) => this.#keys.ensureSuperadmin(tx, 'bootstrap (ISOGATE_ADMIN_TOKEN)', hashToken(configuredToken)))
      return { generated: null }
    }
    return this.#db.system(async (tx) => {
      if ((await this.#keys.countSuperadmins(tx)) > 0) return { generated: null }
      const token = generateToken()
      await this.#keys.ensureSuperadmin(tx, 'bootstrap (generated)', hashToken(token))
      return { generated: token }
    })
  }

  /** Creates a key for a tenant; the token is answered once and stored only as a hash. */
  async createKey(principal: Principal, tenantId: string, input: { role: Role; name: string }): Promise<{ id: string; token: string; role: Role; name: string }> {
    requireRole(principal, ['superadmin', 'admin'])
    if (principal.role !== 'superadmin' && principal.tenantId !== tenantId) throw new AppError('TENANT_NOT_FOUND')
    if (!ROLES.includes(input.role) || input.role === 'superadmin') {
      throw new AppError('VALIDATION_FAILED', 'role must be admin, developer or viewer', { fields: [{ field: 'role', message: 'must be admin, developer or viewer' }] })
    }
    const token = generateToken()
    const record = await this.#db.tenant(tenantId, async (tx) => {
      const key = await this.#keys.insert(tx, { tenantId, role: input.role, name: input.name, tokenHash: hashToken(token) })
      await this.#audit.insert(tx, auditEntry(principal, tenantId, 'key.create', { type: 'api_key', id: key.id }, null, { role: key.role, name: key.name }))
      return key
    })
    return { id: record.id, token, role: record.role, name: record.name }
  }

  /** A tenant's keys, revoked ones included; never a token or its hash. */
  async listKeys(principal: Principal, tenantId: string): Promise<Array<ApiKeyRecord & { revokedAt: Date | null }>> {
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
}

/** Checked at the route and again in the service (defence in depth). */
export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission)) throw new AppError('FORBIDDEN', `This API key (role ${principal.role}) lacks ${permission}`)
}

export function requireRole(principal: Principal, roles: readonly Role[]): void {
  if (!roles.includes(principal.role)) throw new AppError('FORBIDDEN', `This action needs the role ${roles.join(' or ')}`)
}
