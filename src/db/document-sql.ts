import type postgres from 'postgres'
import type { Condition, DocumentCursor, OrderKey } from '../domain/document-query.js'
import type { Tx } from './database.js'

type Fragment = postgres.Fragment

/**
 * The filter language in SQL. Every part a script chose is a bind parameter: paths as `text[]`
 * (`data #> $1`), values as JSON text cast to jsonb (`$2::text::jsonb`: typed text, so the
 * client sends it as it is instead of encoding it as JSON once more). The only SQL text here is
 * fixed; the operator and direction choose between fixed fragments, never interpolate.
 */

const at = (tx: Tx, path: string[]): Fragment => tx`(data #> ${path}::text[])`
const jsonb = (tx: Tx, value: unknown): Fragment => tx`${JSON.stringify(value)}::text::jsonb`

/** A sort key: a missing field sorts as JSON null, so keyset comparisons never meet SQL NULL. */
export const orderKey = (tx: Tx, key: OrderKey): Fragment => tx`coalesce(data #> ${key.path}::text[], 'null'::jsonb)`

function compare(tx: Tx, operator: string, left: Fragment, right: Fragment): Fragment {
  switch (operator) {
    case '$gt': return tx`${left} > ${right}`
    case '$gte': return tx`${left} >= ${right}`
    case '$lt': return tx`${left} < ${right}`
    case '$lte': return tx`${left} <= ${right}`
    default: throw new TypeError(`not a comparison operator: ${operator}`)
  }
}

/**
 * One condition. Comparisons match only values of the operand's JSON type: jsonb orders types
 * (object > array > boolean > number > string > null), so without the guard `{ $gt: 5 }` would
 * match every boolean and `{ $lt: 5 }` every string.
 */
export function conditionSql(tx: Tx, condition: Condition): Fragment {
  const field = at(tx, condition.path)
  switch (condition.kind) {
    case 'eq': return tx`${field} = ${jsonb(tx, condition.value)}`
    // A missing field is "not equal" too (as in MongoDB): IS DISTINCT FROM, not <>.
    case 'ne': return tx`${field} IS DISTINCT FROM ${jsonb(tx, condition.value)}`
    case 'in': return tx`${field} IN (SELECT jsonb_array_elements(${jsonb(tx, condition.values)}))`
    case 'exists': return condition.exists ? tx`${field} IS NOT NULL` : tx`${field} IS NULL`
    case 'compare':
      return tx`(jsonb_typeof(${field}) = ${typeof condition.value} AND ${compare(tx, condition.operator, field, jsonb(tx, condition.value))})`
  }
}

export function whereSql(tx: Tx, conditions: Condition[]): Fragment {
  return conditions.reduce<Fragment>((sql, condition) => tx`${sql} AND ${conditionSql(tx, condition)}`, tx`true`)
}

/** The order of a page: the keys asked for, then (created_at, id) so that the order is total. */
export function orderSql(tx: Tx, orderBy: OrderKey[]): Fragment {
  const keys = orderBy.map((key) => (key.direction === 'desc' ? tx`${orderKey(tx, key)} DESC` : tx`${orderKey(tx, key)} ASC`))
  return [...keys, tx`created_at ASC`, tx`id ASC`].reduce((sql, key) => tx`${sql}, ${key}`)
}

/**
 * Rows after the cursor in that order. With no order keys it is a row comparison the
 * (tenant_id, collection, created_at, id) index serves; with keys (which may mix directions) the
 * expanded form: k1 after v1, or k1 = v1 and k2 after v2, ..., or all equal and (created_at, id) after.
 */
export function afterSql(tx: Tx, orderBy: OrderKey[], cursor: DocumentCursor | null): Fragment {
  if (cursor === null) return tx`true`
  // ::text first: a parameter the server types as timestamptz is serialised by postgres.js through
  // a JS Date, which would cut the cursor's microseconds to milliseconds and repeat rows.
  const position = tx`(created_at, id) > (${cursor.at}::text::timestamptz, ${cursor.id}::text::uuid)`
  let equalSoFar: Fragment = tx`true`
  let any: Fragment = tx`false`
  orderBy.forEach((key, i) => {
    const left = orderKey(tx, key)
    const right = tx`${cursor.keys[i]!}::text::jsonb`
    const beyond = key.direction === 'desc' ? tx`${left} < ${right}` : tx`${left} > ${right}`
    any = tx`${any} OR (${equalSoFar} AND ${beyond})`
    equalSoFar = tx`${equalSoFar} AND ${left} = ${right}`
  })
  return tx`(${any} OR (${equalSoFar} AND ${position}))`
}
