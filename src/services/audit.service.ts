import type { AuditRepository } from '../db/audit.repository.js'
import type { Database } from '../db/database.js'
import { auditListQuery } from '../domain/audit-query.js'
import type { AuditEntry } from '../domain/audit.js'
import type { Principal } from '../domain/auth.js'
import { pageOf, type Page } from '../domain/page.js'
import type { Tenant } from '../domain/tenant.js'
import { requireRole } from './auth.service.js'
import { parseInput } from './validation.js'

/**
 * Reads the audit trail. Entries are written by the services that make the changes, in the same
 * transaction; this only lists them. The trail names keys and roles, so only a tenant's admins
 * (and superadmins) read it.
 */
export class AuditService {
  readonly #db: Database
  readonly #audit: AuditRepository

  constructor(db: Database, audit: AuditRepository) {
    this.#db = db
    this.#audit = audit
  }

  async list(principal: Principal, tenant: Tenant, query: unknown): Promise<Page<AuditEntry>> {
    requireRole(principal, ['superadmin', 'admin'])
    const filter = parseInput(auditListQuery, query ?? {})
    const rows = await this.#db.tenant(tenant.id, (tx) =>
      this.#audit.list(tx, tenant.id, { action: filter.action, resourceId: filter.resourceId, limit: filter.limit, after: filter.cursor }),
    )
    return pageOf(rows, filter.limit, ({ cursorAt: _cursorAt, ...entry }) => entry)
  }
}
