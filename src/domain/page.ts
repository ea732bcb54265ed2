import { z } from 'zod'

/** One page of a list: `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

/**
 * A keyset position: the last row's (created_at, id). `at` keeps Postgres's microseconds (a JS
 * Date would round them to milliseconds and skip or repeat rows created in the same millisecond).
 */
export interface Cursor {
  at: string
  id: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

/** Cursors are opaque to clients: base64url of the position. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url')
}

export function decodeCursor(text: string): Cursor | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (!Array.isArray(value) || value.length !== 2) return null
    const [at, id] = value as unknown[]
    if (typeof at !== 'string' || typeof id !== 'string' || !TIMESTAMP.test(at) || !UUID.test(id)) return null
    // A real instant: month 13, February 30 or hour 25 pass the pattern but not Postgres.
    const date = new Date(at)
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 19) !== at.slice(0, 19)) return null
    return { at, id }
  } catch {
    // Not base64url JSON: the caller reports the field as invalid.
    return null
  }
}

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 200

/** `limit` and `cursor` of every list's query string. */
export const pageFields = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  cursor: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return undefined
      const cursor = decodeCursor(text)
      if (cursor === null) ctx.addIssue({ code: 'custom', message: 'is not a cursor this API gave out' })
      return cursor ?? undefined
    }),
}

/** Builds a page from `limit + 1` rows: the extra row only says there is a next page. */
export function pageOf<R extends { cursorAt: string; id: string }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit
  const kept = more ? rows.slice(0, limit) : rows
  const last = kept[kept.length - 1]
  return { items: kept.map(map), nextCursor: more && last !== undefined ? encodeCursor({ at: last.cursorAt, id: last.id }) : null }
}

export function isUuid(text: string): boolean {
  return UUID.test(text)
}
