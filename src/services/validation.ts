import type { z } from 'zod'
import { AppError } from '../errors.js'

/** Parses input with a domain schema; failures are 400 VALIDATION_FAILED naming each field. */
export function parseInput<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const fields = result.error.issues.flatMap((issue) => {
    const at = issue.path.map(String)
    // An unknown key is named itself, wherever it came from (body or query string).
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: [...at, key].join('.'), message: 'is not a known field' }))
    return [{ field: at.join('.') || '(input)', message: issue.message }]
  })
  const first = fields[0]
  const message = first ? `${first.field}: ${first.message}` : 'invalid input'
  throw new AppError('VALIDATION_FAILED', message, { fields })
}
