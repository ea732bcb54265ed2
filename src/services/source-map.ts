import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping'
import { LRUCache } from 'lru-cache'
import type { ErrorData } from '../../runner/index.js'
import type { Database } from '../db/database.js'
import type { SourceMapRepository } from '../db/source-map.repository.js'
import { AppError } from '../errors.js'

/** An error with its location in the original source (the file the source map names). */
export type MappedError = ErrorData & {
  /** The original file, e.g. `src/index.ts`. */
  file?: string | undefined
  /** Where it was in the deployed bundle, before mapping. */
  generated?: { line: number; column: number } | undefined
}

/** `//# sourceMappingURL=data:application/json;base64,...` at the end of a module (esbuild's `sourcemap: 'inline'`). */
const INLINE_MAP = /\n?\/\/[#@] sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/

/** The script file name the runner gives every program (runner/thread/source-location.ts). */
const FRAME = /script\.js:(\d+):(\d+)/g

/**
 * Splits an inline source map off a module: the code is stored and run without it, the map is
 * kept beside the version. A map that is not JSON with `mappings` is refused (400).
 */
export function splitInlineSourceMap(source: string): { code: string; map: string | null } {
  const match = INLINE_MAP.exec(source)
  if (match === null) return { code: source, map: null }
  const map = Buffer.from(match[1] as string, 'base64').toString('utf8')
  checkSourceMap(map)
  return { code: source.slice(0, match.index), map }
}

/** Refuses a source map that trace-mapping cannot read. */
export function checkSourceMap(map: string): void {
  try {
    const parsed = JSON.parse(map) as { mappings?: unknown; version?: unknown }
    if (typeof parsed.mappings !== 'string' || parsed.version !== 3) throw new Error('not a version 3 source map')
    new TraceMap(parsed as never)
  } catch (error) {
    throw new AppError('VALIDATION_FAILED', `sourceMap: not a source map (${(error as Error).message})`, { fields: [{ field: 'sourceMap', message: 'must be a version 3 source map' }] })
  }
}

/** A 1-based line and column of the bundle, in the original source; null where the map has nothing. */
export function originalLocation(map: TraceMap, line: number, column: number): { file: string; line: number; column: number } | null {
  const found = originalPositionFor(map, { line, column: Math.max(0, column - 1) })
  if (found.source === null || found.line === null || found.column === null) return null
  return { file: found.source, line: found.line, column: found.column + 1 }
}

/** The error with its line, column and stack frames in the original source. */
export function mapError(map: TraceMap, error: ErrorData): MappedError {
  const out: MappedError = { ...error }
  // Compile errors carry a line and column; runtime errors only their stack: its first frame is the place.
  let at: { line: number; column: number } | null = typeof error.line === 'number' && typeof error.column === 'number' ? { line: error.line, column: error.column } : null
  if (at === null && typeof error.stack === 'string') {
    const frame = /script\.js:(\d+):(\d+)/.exec(error.stack)
    if (frame !== null) at = { line: Number(frame[1]), column: Number(frame[2]) }
  }
  if (at !== null) {
    const original = originalLocation(map, at.line, at.column)
    if (original !== null) {
      out.generated = at
      out.file = original.file
      out.line = original.line
      out.column = original.column
    }
  }
  if (typeof error.stack === 'string') {
    out.stack = error.stack.replace(FRAME, (whole, line: string, column: string) => {
      const original = originalLocation(map, Number(line), Number(column))
      return original === null ? whole : `${original.file}:${original.line}:${original.column}`
    })
  }
  return out
}

export interface SourceMapsOptions {
  db: Database
  maps: SourceMapRepository
  /** Parsed maps kept in memory. */
  maxMaps?: number
}

/**
 * Source maps of script versions, read when an error is shown (an execution, the live tail),
 * parsed once and kept in a small LRU. Nothing here is on the run path.
 *
 * @example
 * const maps = new SourceMaps({ db, maps: new SourceMapRepository() })
 * const error = await maps.mapError(tenantId, scriptId, version, record.error)
 */
export class SourceMaps {
  readonly #db: Database
  readonly #maps: SourceMapRepository
  readonly #cache: LRUCache<string, { map: TraceMap | null }>

  constructor(options: SourceMapsOptions) {
    const max = options.maxMaps ?? 64
    if (!Number.isInteger(max) || max < 1) throw new RangeError('options.maxMaps must be a positive integer')
    this.#db = options.db
    this.#maps = options.maps
    this.#cache = new LRUCache({ max })
  }

  /** The error mapped through the version's source map; as it is when the version has none. */
  async mapError(tenantId: string, scriptId: string, version: number, error: ErrorData): Promise<MappedError> {
    if (error.line === undefined && error.stack === undefined) return error
    const map = await this.#find(tenantId, scriptId, version)
    return map === null ? error : mapError(map, error)
  }

  async #find(tenantId: string, scriptId: string, version: number): Promise<TraceMap | null> {
    const key = `${scriptId}:${version}`
    const cached = this.#cache.get(key)
    if (cached !== undefined) return cached.map
    const text = await this.#db.tenant(tenantId, (tx) => this.#maps.find(tx, scriptId, version))
    let map: TraceMap | null = null
    if (text !== null) {
      try {
        map = new TraceMap(text)
      } catch {
        // Checked when it was stored; a map that no longer parses just leaves the error unmapped.
        map = null
      }
    }
    this.#cache.set(key, { map })
    return map
  }
}
