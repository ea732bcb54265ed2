import { z } from 'zod'

/** Query string of the live tail (`GET /api/v1/tail`, a WebSocket): filters applied on the server. */
export const tailQuery = z
  .object({
    /** One script, by name. */
    script: z.string().trim().min(1).max(100).optional(),
    /** Runs that succeeded or failed. */
    status: z.enum(['ok', 'error']).optional(),
    /** HTTP runs of this method. */
    method: z.string().regex(/^[A-Za-z]{1,16}$/, 'must be an HTTP method').transform((method) => method.toUpperCase()).optional(),
    /** Text in a log line, the error or the path (case-insensitive). */
    search: z.string().min(1).max(200).optional(),
  })
  .strict()
