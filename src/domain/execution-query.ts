import { z } from 'zod'
import { EXECUTION_STATUSES, TRIGGERS, type ExecutionStatus } from './execution.js'
import { pageFields } from './page.js'

const instant = z.iso.datetime({ offset: true }).transform((text) => new Date(text))

/** Query string of `GET /executions`: filters and a keyset page, newest first. */
export const executionListQuery = z
  .object({
    scriptId: z.uuid().optional(),
    /** The script by name (resolved in the tenant). */
    script: z.string().trim().min(1).max(100).optional(),
    /** An execution status (failed, completed, ...), an HTTP status (500) or a class of them (5xx). */
    status: z.union([z.enum(EXECUTION_STATUSES), z.string().regex(/^[1-5](?:\d\d|xx)$/, 'must be an execution status, an HTTP status such as 404, or a class such as 5xx')]).optional(),
    /** HTTP runs of this method. */
    method: z.string().regex(/^[A-Za-z]{1,16}$/, 'must be an HTTP method').transform((method) => method.toUpperCase()).optional(),
    /** HTTP runs of this path (without the query); a trailing * matches a prefix. */
    path: z.string().startsWith('/').max(2048).optional(),
    trigger: z.enum(TRIGGERS).optional(),
    /** Created at or after (ISO 8601). */
    from: instant.optional(),
    /** Created before (ISO 8601). */
    to: instant.optional(),
    ...pageFields,
  })
  .strict()
  .refine((query) => query.from === undefined || query.to === undefined || query.from < query.to, { path: ['to'], message: 'must be after from' })

/** Body of `POST /scripts/{id}/run`: the JSON the script's `run(input, env, ctx)` receives. */
export const runInput = z.object({ input: z.json().optional() }).strict()

/** Query string of `POST /scripts/{id}/run`. */
export const runQuery = z
  .object({ async: z.enum(['true', 'false', '1', '0']).optional().transform((value) => value === 'true' || value === '1') })
  .strict()

/** A `status` filter split into an execution status or a range of HTTP statuses. */
export function statusFilter(status: string | undefined): { status?: ExecutionStatus; httpStatus?: { min: number; max: number } } {
  if (status === undefined) return {}
  if ((EXECUTION_STATUSES as readonly string[]).includes(status)) return { status: status as ExecutionStatus }
  if (status.endsWith('xx')) {
    const base = Number(status[0]) * 100
    return { httpStatus: { min: base, max: base + 99 } }
  }
  return { httpStatus: { min: Number(status), max: Number(status) } }
}
