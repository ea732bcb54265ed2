import { z } from 'zod'
import { EXECUTION_STATUSES, TRIGGERS } from './execution.js'
import { pageFields } from './page.js'

const instant = z.iso.datetime({ offset: true }).transform((text) => new Date(text))

/** Query string of `GET /executions`: filters and a keyset page, newest first. */
export const executionListQuery = z
  .object({
    scriptId: z.uuid().optional(),
    status: z.enum(EXECUTION_STATUSES).optional(),
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
