import { z } from 'zod'
import { isPlainObject, jsonBytes, jsonIssue } from './document.js'

/**
 * The filter language of `ctx.db.query(collection, { where, orderBy, limit, cursor })`, parsed
 * into a small tree that src/db/document-sql.ts turns into parameterized SQL. Nothing a script
 * sends ever becomes SQL text: paths are checked here and bound as `text[]`, values as `jsonb`.
 *
 * ```js
 * where: {
 *   'customer.id': 'c1',                   // a plain value (or object) is $eq: jsonb equality
 *   total: { $gte: 100, $lt: 1000 },       // several operators of one field: all must hold
 *   status: { $in: ['paid', 'sent'] },
 *   note: { $exists: false },
 * }
 * orderBy: '-total'                        // or ['-total', 'name'], or [{ field: 'total', direction: 'desc' }]
 * ```
 */

/** Segments of a dotted path: letters, digits, `_`, `$` and `-`; a number indexes an array. */
export const PATH_SEGMENT = /^[a-zA-Z0-9_$-]{1,64}$/
export const MAX_PATH_DEPTH = 8
export const MAX_WHERE_FIELDS = 32
export const MAX_IN_VALUES = 100
export const MAX_WHERE_BYTES = 64 * 1024
export const MAX_ORDER_KEYS = 2
const MAX_CURSOR_CHARS = 64 * 1024

export type ComparisonOperator = '$gt' | '$gte' | '$lt' | '$lte'

export type Condition =
  | { kind: 'eq'; path: string[]; value: unknown }
  | { kind: 'ne'; path: string[]; value: unknown }
  | { kind: 'compare'; operator: ComparisonOperator; path: string[]; value: string | number | boolean }
  | { kind: 'in'; path: string[]; values: unknown[] }
  | { kind: 'exists'; path: string[]; exists: boolean }

export interface OrderKey {
  /** The dotted path as written (normalised: no sign). */
  field: string
  path: string[]
  direction: 'asc' | 'desc'
}

/**
 * Where the previous page ended: the last document's order-key values as jsonb text (exact, even
 * for numbers a JS double would round), its creation time with microseconds, and its id.
 */
export interface DocumentCursor {
  keys: string[]
  at: string
  id: string
}

export interface DocumentQuery {
  where: Condition[]
  orderBy: OrderKey[]
  limit: number
  after: DocumentCursor | null
}

export interface DocumentQueryLimits {
  defaultLimit: number
  maxLimit: number
}

const COMPARISONS = new Set<string>(['$gt', '$gte', '$lt', '$lte'])
const OPERATORS = new Set<string>(['$eq', '$ne', '$in', '$exists', ...COMPARISONS])
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

/** A dotted path as segments, or why it is not one. */
export function parsePath(text: string): string[] | string {
  const segments = text.split('.')
  if (segments.length > MAX_PATH_DEPTH) return `path "${text}" is deeper than ${MAX_PATH_DEPTH} segments`
  const bad = segments.find((segment) => !PATH_SEGMENT.test(segment))
  if (bad !== undefined) return `path segment ${JSON.stringify(bad)} is not 1-64 letters, digits, _, $ or -`
  return segments
}

type Issues = Array<{ path: PropertyKey[]; message: string }>

function parseWhere(where: unknown, issues: Issues): Condition[] {
  if (where === undefined) return []
  if (!isPlainObject(where)) {
    issues.push({ path: ['where'], message: 'must be an object of { path: condition }' })
    return []
  }
  const notJson = jsonIssue(where)
  if (notJson !== null) {
    issues.push({ path: ['where'], message: notJson })
    return []
  }
  if (jsonBytes(where) > MAX_WHERE_BYTES) {
    issues.push({ path: ['where'], message: `is over ${MAX_WHERE_BYTES} bytes` })
    return []
  }
  const entries = Object.entries(where)
  if (entries.length > MAX_WHERE_FIELDS) issues.push({ path: ['where'], message: `has more than ${MAX_WHERE_FIELDS} fields` })
  const conditions: Condition[] = []
  for (const [field, condition] of entries) {
    const at = ['where', field]
    if (field.startsWith('$')) {
      issues.push({ path: at, message: `unknown operator ${field}: operators go inside a field's condition ({ total: { $gte: 100 } })` })
      continue
    }
    const path = parsePath(field)
    if (typeof path === 'string') {
      issues.push({ path: at, message: path })
      continue
    }
    conditions.push(...parseCondition(path, condition, at, issues))
  }
  return conditions
}

function parseCondition(path: string[], condition: unknown, at: PropertyKey[], issues: Issues): Condition[] {
  if (!isPlainObject(condition)) return [{ kind: 'eq', path, value: condition }]
  const keys = Object.keys(condition)
  const operators = keys.filter((key) => key.startsWith('$'))
  if (operators.length === 0) return [{ kind: 'eq', path, value: condition }]
  if (operators.length !== keys.length) {
    issues.push({ path: at, message: 'mixes operators and fields; to match an object with $ keys use { $eq: {...} }' })
    return []
  }
  const conditions: Condition[] = []
  for (const operator of operators) {
    const value = condition[operator]
    const here = [...at, operator]
    if (!OPERATORS.has(operator)) {
      issues.push({ path: here, message: `unknown operator ${operator} (known: ${[...OPERATORS].join(' ')})` })
    } else if (operator === '$eq' || operator === '$ne') {
      conditions.push({ kind: operator === '$eq' ? 'eq' : 'ne', path, value })
    } else if (operator === '$in') {
      if (!Array.isArray(value) || value.length > MAX_IN_VALUES) issues.push({ path: here, message: `must be an array of at most ${MAX_IN_VALUES} values` })
      else conditions.push({ kind: 'in', path, values: value })
    } else if (operator === '$exists') {
      if (typeof value !== 'boolean') issues.push({ path: here, message: 'must be true or false' })
      else conditions.push({ kind: 'exists', path, exists: value })
    } else if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
      conditions.push({ kind: 'compare', operator: operator as ComparisonOperator, path, value })
    } else {
      issues.push({ path: here, message: 'compares with a number, a string or a boolean' })
    }
  }
  return conditions
}

const orderEntry = z.union([
  z.string(),
  z.object({ field: z.string(), direction: z.enum(['asc', 'desc']).default('asc') }).strict(),
])

function parseOrderBy(orderBy: z.infer<typeof orderEntry> | Array<z.infer<typeof orderEntry>> | undefined, issues: Issues): OrderKey[] {
  if (orderBy === undefined) return []
  const entries = Array.isArray(orderBy) ? orderBy : [orderBy]
  const keys: OrderKey[] = []
  entries.forEach((entry, i) => {
    const [field, direction] = typeof entry === 'string'
      ? entry.startsWith('-') ? [entry.slice(1), 'desc' as const] : [entry, 'asc' as const]
      : [entry.field, entry.direction]
    const path = parsePath(field)
    if (typeof path === 'string') issues.push({ path: ['orderBy', i], message: path })
    else if (keys.some((key) => key.field === field)) issues.push({ path: ['orderBy', i], message: `orders by ${field} twice` })
    else keys.push({ field, path, direction })
  })
  return keys
}

/** What a cursor was made for: a cursor of another order would skip or repeat documents. */
function orderSignature(orderBy: OrderKey[]): string {
  return orderBy.map((key) => (key.direction === 'desc' ? `-${key.field}` : key.field)).join(',')
}

/** Cursors are opaque to scripts: base64url JSON of the position and the order it belongs to. */
export function encodeDocumentCursor(orderBy: OrderKey[], cursor: DocumentCursor): string {
  return Buffer.from(JSON.stringify({ o: orderSignature(orderBy), k: cursor.keys, at: cursor.at, id: cursor.id })).toString('base64url')
}

function decodeDocumentCursor(text: string, orderBy: OrderKey[]): DocumentCursor | string {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    // Not base64url JSON: reported as a cursor this API did not give out.
    return 'is not a cursor this API gave out'
  }
  if (!isPlainObject(value)) return 'is not a cursor this API gave out'
  const { o, k, at, id } = value
  if (typeof at !== 'string' || !TIMESTAMP.test(at) || typeof id !== 'string' || !UUID.test(id) || !Array.isArray(k)) {
    return 'is not a cursor this API gave out'
  }
  if (o !== orderSignature(orderBy) || k.length !== orderBy.length) return 'was made for another orderBy'
  const keys: string[] = []
  for (const key of k) {
    if (typeof key !== 'string' || !isJsonText(key)) return 'is not a cursor this API gave out'
    keys.push(key)
  }
  return { keys, at, id }
}

function isJsonText(text: string): boolean {
  try {
    return jsonIssue(JSON.parse(text)) === null
  } catch {
    // Not JSON at all: the caller refuses the cursor.
    return false
  }
}

/**
 * The schema of a query's options for a store's limits. Parsing answers the tree or zod issues
 * naming each bad place (`where.total.$foo: unknown operator $foo`).
 *
 * @example
 * documentQuerySchema({ defaultLimit: 100, maxLimit: 1000 }).parse({ where: { total: { $gte: 100 } }, orderBy: '-total' })
 */
export function documentQuerySchema(limits: DocumentQueryLimits): z.ZodType<DocumentQuery> {
  return z
    .object({
      where: z.unknown().optional(),
      orderBy: z.union([orderEntry, z.array(orderEntry).max(MAX_ORDER_KEYS)]).optional(),
      limit: z.number().int().min(1).max(limits.maxLimit).default(limits.defaultLimit),
      cursor: z.string().max(MAX_CURSOR_CHARS).nullable().optional(),
    })
    .strict()
    .transform((input, ctx) => {
      const issues: Issues = []
      const where = parseWhere(input.where, issues)
      const orderBy = parseOrderBy(input.orderBy, issues)
      let after: DocumentCursor | null = null
      if (issues.length === 0 && typeof input.cursor === 'string' && input.cursor !== '') {
        const cursor = decodeDocumentCursor(input.cursor, orderBy)
        if (typeof cursor === 'string') issues.push({ path: ['cursor'], message: cursor })
        else after = cursor
      }
      for (const issue of issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
      return issues.length > 0 ? z.NEVER : { where, orderBy, limit: input.limit, after }
    }) as unknown as z.ZodType<DocumentQuery>
}
