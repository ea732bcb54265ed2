import { createHash } from 'node:crypto'
import type { CheckResult } from '../../runner/index.js'
import { AppError } from '../errors.js'

/** Compiles a source without running it (the runner does, in a scratch isolate). */
export interface SourceChecker {
  check(source: string): Promise<CheckResult>
}

export function sourceHash(source: string): string {
  return createHash('sha256').update(source).digest('hex')
}

/**
 * Refuses a source over the size limit (413) or one that does not compile (400, with line and
 * column). The size is checked first so an oversized source never reaches the runner.
 */
export async function checkSource(checker: SourceChecker, source: string, maxSourceBytes: number): Promise<void> {
  const bytes = Buffer.byteLength(source)
  if (bytes > maxSourceBytes) {
    throw new AppError('SOURCE_TOO_LARGE', `The source is ${bytes} bytes; the limit is ${maxSourceBytes}`, { fields: [{ field: 'source', message: `is over ${maxSourceBytes} bytes` }], limit: maxSourceBytes })
  }
  const result = await checker.check(source)
  if (result.ok) return
  const error = result.error
  const code = error?.code === 'SCRIPT_IMPORT_FORBIDDEN' ? 'SCRIPT_IMPORT_FORBIDDEN' : 'SCRIPT_SYNTAX_ERROR'
  throw new AppError(code, error?.message, { fields: [{ field: 'source', message: error?.message ?? 'does not compile' }], line: error?.line, column: error?.column, pointer: error?.pointer })
}
