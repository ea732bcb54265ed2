import { AuditRepository } from '../db/audit.repository.js'
import type { Database } from '../db/database.js'
import type { TenantRepository } from '../db/tenant.repository.js'
import { auditEntry } from '../domain/audit.js'
import type { Principal } from '../domain/auth.js'
import { tenantInput, type Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requireRole } from './auth.service.js'
import { conflictOrRethrow } from './postgres-errors.js'
import { parseInput } from './validation.js'

export class TenantService {
  readonly #db: Database
  readonly #tenants: TenantRepository
  readonly #audit: AuditRepository

  constructor(db: Database, tenants: TenantRepository, audit: AuditRepository = new AuditRepository()) {
    this.#db = db
    this.#tenants = tenants
    this.#audit = audit
  }

  async create(principal: Principal, body: unknown): Promise<Tenant> {
    requireRole(principal, ['superadmin'])
    const input = parseInput(tenantInput, body)
    return this.#db
      .system(async (tx) => {
        const tenant = await this.#tenants.insert(tx, input)
        await this.#audit.insert(tx, auditEntry(principal, tenant.id, 'tenant.create', { type: 'tenant', id: tenant.id }, null, { slug: tenant.slug, name: tenant.name }))
        return tenant
      })
      .catch(conflictOrRethrow)
  }

  /**
   * The tenant a request acts on: a tenant key's own (a different X-Tenant answers 404, as if
   * it did not exist), or the one a superadmin names in X-Tenant.
   */
  async resolve(principal: Principal, slug: string | undefined): Promise<Tenant> {
    if (principal.tenantId !== null) {
      const own = await this.#db.tenant(principal.tenantId, (tx) => this.#tenants.findById(tx, principal.tenantId as string))
      if (own === null || (slug !== undefined && slug !== own.slug)) throw new AppError('TENANT_NOT_FOUND')
      return own
    }
    if (slug === undefined) throw new AppError('TENANT_REQUIRED')
    const tenant = await this.#db.system((tx) => this.#tenants.findBySlug(tx, slug))
    if (tenant === null) throw new AppError('TENANT_NOT_FOUND')
    return tenant
  }

  /** Every tenant's id and slug (the data plane's table of known tenants). */
  async slugs(): Promise<Array<{ id: string; slug: string }>> {
    return this.#db.system((tx) => this.#tenants.allSlugs(tx))
  }

  async findBySlug(slug: string): Promise<Tenant | null> {
    return this.#db.system((tx) => this.#tenants.findBySlug(tx, slug))
  }
}
