import type { z } from 'zod'
import { AppError } from '../errors.js'

/** Parses input with a domain schema; failures are 400 VALIDATION_FAILED naming each field. */
export function parseInput<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const fields = result.error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message }))
  const first = fields[0]
  const message = first ? `${first.field}: ${first.message}` : 'invalid input'
  throw new AppError('VALIDATION_FAILED', message, { fields })
}
