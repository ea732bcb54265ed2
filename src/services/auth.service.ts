import { createHash, randomBytes } from 'node:crypto'
import type { ApiKeyRepository } from '../db/api-key.repository.js'
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

  constructor(db: Database, keys: ApiKeyRepository) {
    this.#db = db
    this.#keys = keys
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
      throw new AppError('VALIDATION_FAILED', 'role must be admin, developer or viewer', { field: 'role' })
    }
    const token = generateToken()
    const record = await this.#db.tenant(tenantId, (tx) => this.#keys.insert(tx, { tenantId, role: input.role, name: input.name, tokenHash: hashToken(token) }))
    return { id: record.id, token, role: record.role, name: record.name }
  }
}

/** Checked at the route and again in the service (defence in depth). */
export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission)) throw new AppError('FORBIDDEN', `This API key (role ${principal.role}) lacks ${permission}`)
}

export function requireRole(principal: Principal, roles: readonly Role[]): void {
  if (!roles.includes(principal.role)) throw new AppError('FORBIDDEN', `This action needs the role ${roles.join(' or ')}`)
}
