import { AuditRepository } from '../db/audit.repository.js'
import type { Database, Tx } from '../db/database.js'
import type { TenantRepository } from '../db/tenant.repository.js'
import { auditEntry } from '../domain/audit.js'
import type { Principal } from '../domain/auth.js'
import type { ScriptLimits } from '../domain/script.js'
import type { Tenant } from '../domain/tenant.js'
import { SCRIPT_LIMIT_QUOTAS, effectiveQuota, overridesOf, quotaInput, type QuotaOverrides, type TenantQuota } from '../domain/tenant-quota.js'
import { AppError } from '../errors.js'
import { requireRole } from './auth.service.js'
import type { TenantDirectory } from './tenant-directory.js'
import { parseInput } from './validation.js'

/** A tenant's quota as the API shows it: what is in force, and which fields the operator set. */
export interface QuotaView {
  quota: TenantQuota
  /** The fields set for this tenant; the others are the defaults from the settings. */
  overrides: QuotaOverrides
}

/**
 * Per-tenant quotas: set by a superadmin, read by the tenant, checked when a script is written.
 * Lowering a quota below what the tenant's scripts ask for now is refused (409
 * QUOTA_BELOW_USAGE naming the quota, the scripts' need and the cap), never a silent clamp of
 * scripts; a script limit left to the default is clamped to the cap when it runs.
 */
export class QuotaService {
  readonly #db: Database
  readonly #tenants: TenantRepository
  readonly #directory: TenantDirectory
  readonly #audit: AuditRepository

  constructor(options: { db: Database; tenants: TenantRepository; directory: TenantDirectory; audit?: AuditRepository }) {
    this.#db = options.db
    this.#tenants = options.tenants
    this.#directory = options.directory
    this.#audit = options.audit ?? new AuditRepository()
  }

  async get(principal: Principal, tenant: Tenant): Promise<QuotaView> {
    if (principal.role !== 'superadmin' && principal.tenantId !== tenant.id) throw new AppError('TENANT_NOT_FOUND')
    const overrides = (await this.#db.system((tx) => this.#tenants.quotas(tx, tenant.id))).get(tenant.id) ?? {}
    return { quota: effectiveQuota(this.#directory.defaults, overrides), overrides }
  }

  /** Replaces the tenant's quota (fields left out are the defaults); in force on every node before it resolves here. */
  async put(principal: Principal, tenant: Tenant, body: unknown): Promise<QuotaView> {
    requireRole(principal, ['superadmin'])
    const overrides = overridesOf(parseInput(quotaInput, body))
    const quota = effectiveQuota(this.#directory.defaults, overrides)
    await this.#db.system(async (tx) => {
      await tx`SELECT 1 FROM tenants WHERE id = ${tenant.id} FOR UPDATE`
      const before = (await this.#tenants.quotas(tx, tenant.id)).get(tenant.id) ?? {}
      await this.#refuseBelowUsage(tx, tenant.id, quota)
      await this.#tenants.setQuota(tx, tenant.id, overrides)
      await this.#audit.insert(tx, auditEntry(principal, tenant.id, 'tenant.quota', { type: 'tenant', id: tenant.id }, before, overrides))
    })
    await this.#directory.refresh(tenant.id)
    return { quota, overrides }
  }

  /**
   * A script's limits and source against its tenant's quota: 400 QUOTA_EXCEEDED naming the limit,
   * what was asked and the cap. Called by the script service on create and update.
   */
  checkScript(tenantId: string, limits: ScriptLimits, sourceBytes: number | null): void {
    const quota = this.#directory.quotaOf(tenantId)
    for (const name of SCRIPT_LIMIT_QUOTAS) {
      const asked = limits[name]
      if (asked !== undefined && asked > quota[name]) {
        throw new AppError('QUOTA_EXCEEDED', `limits.${name}: ${asked} is over the tenant's quota of ${quota[name]}`, { field: `limits.${name}`, limit: name, requested: asked, cap: quota[name] })
      }
    }
    if (sourceBytes !== null && sourceBytes > quota.sourceBytes) {
      throw new AppError('QUOTA_EXCEEDED', `source: ${sourceBytes} bytes is over the tenant's quota of ${quota.sourceBytes}`, { field: 'source', limit: 'sourceBytes', requested: sourceBytes, cap: quota.sourceBytes })
    }
  }

  /** In the creating transaction: one more script must fit the quota (the tenant row lock orders concurrent creates). */
  async checkScriptCount(tx: Tx, tenantId: string): Promise<void> {
    const cap = this.#directory.quotaOf(tenantId).scripts
    await tx`SELECT pg_advisory_xact_lock(hashtext(${tenantId}))`
    const count = await this.#tenants.countScripts(tx, tenantId)
    if (count >= cap) throw new AppError('SCRIPT_QUOTA_REACHED', `the tenant has ${count} scripts; its quota is ${cap}`, { limit: 'scripts', count, cap })
  }

  async #refuseBelowUsage(tx: Tx, tenantId: string, quota: TenantQuota): Promise<void> {
    const usage = await this.#tenants.scriptUsage(tx, tenantId)
    const below: Array<{ limit: string; used: number; cap: number }> = []
    if (usage.scripts > quota.scripts) below.push({ limit: 'scripts', used: usage.scripts, cap: quota.scripts })
    for (const name of SCRIPT_LIMIT_QUOTAS) {
      const used = usage.limits[name]
      if (used !== null && used > quota[name]) below.push({ limit: name, used, cap: quota[name] })
    }
    if (usage.sourceBytes > quota.sourceBytes) below.push({ limit: 'sourceBytes', used: usage.sourceBytes, cap: quota.sourceBytes })
    const dbBytes = await this.#tenants.dbBytes(tx, tenantId)
    if (dbBytes > quota.dbBytes) below.push({ limit: 'dbBytes', used: dbBytes, cap: quota.dbBytes })
    const first = below[0]
    if (first === undefined) return
    throw new AppError('QUOTA_BELOW_USAGE', `${first.limit}: the tenant's scripts use ${first.used}, over the new cap of ${first.cap}; lower them first`, { below })
  }
}
