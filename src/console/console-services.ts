import type { Database } from '../db/database.js'
import type { AuditService, AuthService, ExecutionService, ScriptService, TenantService } from '../services/index.js'
import type { CronService, EventService } from '../triggers/index.js'
import type { HealthSource } from './health-source.js'

/**
 * What the console calls: the same services as the REST API, so every action is checked by the
 * same permission code with the signed-in key's principal. `db` serves only the console's own
 * tables (sessions) and the superadmin's tenant list.
 */
export interface ConsoleServices {
  auth: AuthService
  tenants: TenantService
  scripts: ScriptService
  executions: ExecutionService
  audit: AuditService
  cron?: CronService | undefined
  events?: EventService | undefined
  health: HealthSource
  db: Database
}
