import { z } from 'zod'
import { AUDIT_ACTIONS } from './audit.js'
import { pageFields } from './page.js'

/** Query string of `GET /audit`: newest first, optionally one action or one resource. */
export const auditListQuery = z
  .object({
    action: z.enum(AUDIT_ACTIONS).optional(),
    resourceId: z.string().min(1).max(200).optional(),
    ...pageFields,
  })
  .strict()
