/**
 * A document of a tenant's store, as `ctx.db` hands it to a script: plain data, because it is
 * copied into the script's isolate. Timestamps are ISO 8601 in UTC with microseconds.
 */
export interface StoredDocument {
  id: string
  data: Record<string, unknown>
  createdAt: string
  updatedAt: string
}

/** A letter, then up to 63 letters, digits, `_` or `-`: also a segment of the event type `db.{collection}.created`. */
export const COLLECTION_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/

/** Deeper JSON than this is refused: Postgres parses jsonb recursively and has a stack limit. */
export const MAX_JSON_DEPTH = 64

/** A lone UTF-16 surrogate (a valid pair is one code point under `u`, so it does not match). */
const LONE_SURROGATE = /\p{Surrogate}/u

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * Why `value` is not JSON that a jsonb column stores and gives back unchanged, or null when it is.
 * JSON.stringify would quietly drop `undefined` and turn NaN into null; jsonb refuses `\u0000` and
 * lone surrogates. Refusing them here names the place instead of failing inside Postgres.
 *
 * @example
 * jsonIssue({ a: [1, undefined] }) // 'a.1: undefined is not JSON'
 */
export function jsonIssue(value: unknown, at = '', depth = 0): string | null {
  const where = at === '' ? '(value)' : at
  if (depth > MAX_JSON_DEPTH) return `${where}: nested deeper than ${MAX_JSON_DEPTH} levels`
  if (value === null || typeof value === 'boolean') return null
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${where}: ${value} is not a JSON number`
  if (typeof value === 'string') return stringIssue(value, where)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const issue = jsonIssue(value[i], join(at, String(i)), depth + 1)
      if (issue !== null) return issue
    }
    return null
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      const keyIssue = stringIssue(key, `${join(at, key)} (key)`)
      if (keyIssue !== null) return keyIssue
      const issue = jsonIssue(item, join(at, key), depth + 1)
      if (issue !== null) return issue
    }
    return null
  }
  return `${where}: ${describe(value)} is not JSON`
}

/** Why `value` cannot be stored as a document (a JSON object), or null. */
export function documentIssue(value: unknown): string | null {
  if (!isPlainObject(value)) return `a document must be a JSON object, not ${describe(value)}`
  return jsonIssue(value)
}

/** Bytes of the document as JSON text (UTF-8): what the size limits count. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value))
}

function stringIssue(text: string, where: string): string | null {
  if (text.includes('\u0000')) return `${where}: the character \\u0000 cannot be stored`
  if (LONE_SURROGATE.test(text)) return `${where}: a lone UTF-16 surrogate cannot be stored`
  return null
}

function join(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value === undefined) return 'undefined'
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'non-plain'} object`
  return `a ${typeof value}`
}
