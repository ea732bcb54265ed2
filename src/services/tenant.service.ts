import { z } from 'zod'
import { AuditRepository } from '../db/audit.repository.js'
import type { Database } from '../db/database.js'
import type { TenantRepository } from '../db/tenant.repository.js'
import { auditEntry } from '../domain/audit.js'
import type { Principal } from '../domain/auth.js'
import { pageFields, pageOf, type Page } from '../domain/page.js'
import { TENANT_STATUSES, tenantInput, tenantPatch, type Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requireRole } from './auth.service.js'
import { conflictOrRethrow } from './postgres-errors.js'
import type { TenantDirectory } from './tenant-directory.js'
import { parseInput } from './validation.js'

const tenantListQuery = z.object({ status: z.enum(TENANT_STATUSES).optional(), ...pageFields }).strict()

export interface TenantServiceOptions {
  /** This node's view of every tenant: refreshed after each change, before the API answers. */
  directory?: TenantDirectory
  /** Runs before a tenant's rows go (flush what is buffered for it). */
  beforeDelete?: (tenant: Tenant) => Promise<void>
  /** Execution records deleted per transaction before the tenant row goes. */
  deleteBatchSize?: number
}

/**
 * Tenants: create, list, read, rename, suspend and resume, delete. Every change is audited in its
 * transaction and refreshed in the tenant directory (and through it on every node) before the
 * call resolves.
 */
export class TenantService {
  readonly #db: Database
  readonly #tenants: TenantRepository
  readonly #audit: AuditRepository
  readonly #directory: TenantDirectory | undefined
  readonly #beforeDelete: (tenant: Tenant) => Promise<void>
  readonly #deleteBatchSize: number

  constructor(db: Database, tenants: TenantRepository, audit: AuditRepository = new AuditRepository(), options: TenantServiceOptions = {}) {
    this.#db = db
    this.#tenants = tenants
    this.#audit = audit
    this.#directory = options.directory
    this.#beforeDelete = options.beforeDelete ?? (async () => {})
    this.#deleteBatchSize = options.deleteBatchSize ?? 5000
    if (!Number.isInteger(this.#deleteBatchSize) || this.#deleteBatchSize < 1) throw new RangeError('options.deleteBatchSize must be a positive integer')
  }

  async create(principal: Principal, body: unknown): Promise<Tenant> {
    requireRole(principal, ['superadmin'])
    const input = parseInput(tenantInput, body)
    const tenant = await this.#db
      .system(async (tx) => {
        const tenant = await this.#tenants.insert(tx, input)
        await this.#audit.insert(tx, auditEntry(principal, tenant.id, 'tenant.create', { type: 'tenant', id: tenant.id }, null, { slug: tenant.slug, name: tenant.name }))
        return tenant
      })
      .catch(conflictOrRethrow)
    await this.#directory?.refresh(tenant.id)
    return tenant
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

  /** Every tenant, newest first, in keyset pages (superadmin). */
  async list(principal: Principal, query: unknown): Promise<Page<Tenant>> {
    requireRole(principal, ['superadmin'])
    const filter = parseInput(tenantListQuery, query ?? {})
    const rows = await this.#db.system((tx) => this.#tenants.list(tx, { limit: filter.limit, after: filter.cursor, status: filter.status }))
    return pageOf(rows, filter.limit, ({ cursorAt: _cursorAt, ...tenant }) => tenant)
  }

  /** A superadmin reads any tenant; a tenant's key reads its own (another answers 404). */
  async get(principal: Principal, slug: string): Promise<Tenant> {
    return this.resolve(principal, slug)
  }

  /** Renames, suspends or resumes (superadmin). A suspension is in force on every node before this resolves here. */
  async update(principal: Principal, slug: string, body: unknown): Promise<Tenant> {
    requireRole(principal, ['superadmin'])
    const patch = parseInput(tenantPatch, body)
    const updated = await this.#db.system(async (tx) => {
      const current = await this.#tenants.lockBySlug(tx, slug)
      if (current === null) throw new AppError('TENANT_NOT_FOUND')
      const next = await this.#tenants.update(tx, current.id, { name: patch.name ?? current.name, status: patch.status ?? current.status })
      const resource = { type: 'tenant' as const, id: current.id }
      if (next.status !== current.status) {
        await this.#audit.insert(tx, auditEntry(principal, current.id, next.status === 'suspended' ? 'tenant.suspend' : 'tenant.resume', resource, { status: current.status }, { status: next.status }))
        // Cron slots that passed while suspended are not caught up: resumed scripts plan from now.
        if (next.status === 'active') await tx`UPDATE scripts SET next_run_at = NULL WHERE tenant_id = ${current.id} AND type = 'scheduled'`
        await tx`SELECT pg_notify('isogate_cron', ${current.id}), pg_notify('isogate_events', ${current.id})`
      }
      if (next.name !== current.name) {
        await this.#audit.insert(tx, auditEntry(principal, current.id, 'tenant.update', resource, { name: current.name }, { name: next.name }))
      }
      return next
    })
    await this.#directory?.refresh(updated.id)
    return updated
  }

  /**
   * Deletes a tenant and every row it owns (scripts, versions, routes, executions, documents,
   * events, deliveries, dead letters, cron fires, keys, quota). The audit trail keeps its entries,
   * this deletion among them (append-only). The tenant is suspended first, on every node, so no
   * new run of it starts while its rows go.
   */
  async delete(principal: Principal, slug: string): Promise<void> {
    requireRole(principal, ['superadmin'])
    const tenant = await this.findBySlug(slug)
    if (tenant === null) throw new AppError('TENANT_NOT_FOUND')
    if (tenant.status !== 'suspended') {
      await this.#db.system((tx) => this.#tenants.update(tx, tenant.id, { name: tenant.name, status: 'suspended' }))
      await this.#directory?.refresh(tenant.id)
    }
    await this.#beforeDelete(tenant)
    // Execution records are the bulk of a tenant's rows: they go in batches, each a short transaction.
    while ((await this.#db.system((tx) => this.#tenants.deleteExecutions(tx, tenant.id, this.#deleteBatchSize))) === this.#deleteBatchSize);
    await this.#db.system(async (tx) => {
      const current = await this.#tenants.lockBySlug(tx, slug)
      if (current === null || current.id !== tenant.id) throw new AppError('TENANT_NOT_FOUND')
      await this.#tenants.delete(tx, tenant.id)
      await this.#audit.insert(tx, auditEntry(principal, tenant.id, 'tenant.delete', { type: 'tenant', id: tenant.id }, { slug: tenant.slug, name: tenant.name, status: tenant.status }, null))
    })
    await this.#directory?.refresh(tenant.id)
  }
}
