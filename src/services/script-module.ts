import { TraceMap } from '@jridgewell/trace-mapping'
import { AppError } from '../errors.js'
import { checkSource, type SourceChecker } from './source-check.js'
import { originalLocation, splitInlineSourceMap } from './source-map.js'

/**
 * A source as it is stored and run: an inline source map at its end (`isogate deploy`, esbuild's
 * `sourcemap: 'inline'`) is split off and kept beside the version; the code is checked for size
 * and compiled. A compile error of a mapped bundle names the original file, line and column.
 */
export async function checkedModule(checker: SourceChecker, source: string, maxBytes: number): Promise<{ code: string; map: string | null }> {
  const { code, map } = splitInlineSourceMap(source)
  try {
    await checkSource(checker, code, maxBytes)
  } catch (error) {
    throw map === null ? error : mappedCompileError(error, map)
  }
  return { code, map }
}

function mappedCompileError(error: unknown, map: string): unknown {
  if (!(error instanceof AppError)) return error
  const details = error.details as { line?: unknown; column?: unknown } | undefined
  if (typeof details?.line !== 'number' || typeof details.column !== 'number') return error
  const original = originalLocation(new TraceMap(map), details.line, details.column)
  if (original === null) return error
  const where = `${original.file}:${original.line}:${original.column}`
  return new AppError(error.code, `${error.message} (${where})`, { ...details, file: original.file, line: original.line, column: original.column, generated: { line: details.line, column: details.column } }, { cause: error })
}
