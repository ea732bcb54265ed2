import { z } from 'zod'
import type { CronRepository } from '../db/cron.repository.js'
import type { Database } from '../db/database.js'
import type { Principal } from '../domain/auth.js'
import { CronSchedule, CronSyntaxError } from '../domain/cron-schedule.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requirePermission } from '../services/auth.service.js'
import { parseInput } from '../services/validation.js'
import { systemClock, type Clock } from './run-support.js'

/** The query of GET /api/v1/cron/preview (also the OpenAPI document's). */
export const previewQuery = z
  .object({
    expression: z.string().trim().min(1, 'is required'),
    timezone: z.string().min(1).default('UTC'),
    from: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2025-03-09T00:00:00Z' }).optional(),
    count: z.coerce.number().int().min(1).max(100).default(10),
  })
  .strict()

export interface CronPreview {
  expression: string
  timezone: string
  /** True when the DST gap/overlap rules for fixed times apply (README, "Cron schedules"). */
  fixedTime: boolean
  runs: string[]
}

export interface ScriptSchedule {
  expression: string
  timezone: string
  nextRunAt: string | null
  lastRunAt: string | null
  lastRunStatus: string | null
}

/** Cron for the API: previews of a schedule before it is saved, and a script's plan. */
export class CronService {
  readonly #db: Database
  readonly #fires: CronRepository
  readonly #clock: Clock

  constructor(options: { db: Database; fires: CronRepository; clock?: Clock }) {
    this.#db = options.db
    this.#fires = options.fires
    this.#clock = options.clock ?? systemClock
  }

  /** The next fire instants (ISO, UTC); a bad expression is 400 naming the field. */
  preview(principal: Principal, query: unknown): CronPreview {
    requirePermission(principal, 'scripts.read')
    const input = parseInput(previewQuery, query)
    let schedule: CronSchedule
    try {
      schedule = CronSchedule.parse(input.expression, input.timezone)
    } catch (error) {
      if (!(error instanceof CronSyntaxError)) throw error
      const field = error.field === 'timezone' ? 'timezone' : 'expression'
      throw new AppError('VALIDATION_FAILED', `${field}: ${error.message}`, { fields: [{ field, message: error.message }], cronField: error.field })
    }
    const from = input.from === undefined ? new Date(this.#clock.now()) : new Date(input.from)
    return {
      expression: schedule.expression,
      timezone: schedule.timezone,
      fixedTime: schedule.fixedTime,
      runs: schedule.nextN(from, input.count).map((date) => date.toISOString()),
    }
  }

  /** A scheduled script's next and last run. */
  async schedule(principal: Principal, tenant: Tenant, scriptId: string): Promise<ScriptSchedule> {
    requirePermission(principal, 'scripts.read')
    if (!UUID.test(scriptId)) throw new AppError('SCRIPT_NOT_FOUND')
    const found = await this.#db.tenant(tenant.id, async (tx) => {
      const [row] = await tx<Array<{ cron_expression: string | null; cron_timezone: string | null }>>`
        SELECT cron_expression, cron_timezone FROM scripts WHERE id = ${scriptId}`
      if (row === undefined) return null
      return { row, plan: await this.#fires.plan(tx, scriptId) }
    })
    if (found === null) throw new AppError('SCRIPT_NOT_FOUND')
    return {
      expression: found.row.cron_expression ?? '',
      timezone: found.row.cron_timezone ?? 'UTC',
      nextRunAt: found.plan?.nextRunAt?.toISOString() ?? null,
      lastRunAt: found.plan?.lastRunAt?.toISOString() ?? null,
      lastRunStatus: found.plan?.lastRunStatus ?? null,
    }
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
