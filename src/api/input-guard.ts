import { AppError } from '../errors.js'

/** Deepest nesting of objects and arrays a request may send (a run input, an event payload). */
export const MAX_INPUT_DEPTH = 64

/**
 * Refuses input Postgres cannot store or the services cannot walk, before a route sees it:
 * `\u0000` (neither text nor jsonb holds it), lone UTF-16 surrogates (no UTF-8 encoding exists
 * for them), and nesting past MAX_INPUT_DEPTH (thousands deep overflow the stack of every
 * recursive reader after JSON.parse: zod, serializers, structured clone). Each is 400
 * VALIDATION_FAILED naming the field, never a 500 from deep inside.
 *
 * @example
 * checkInput({ body: { env: { A: 'x\u0000' } } }) // throws VALIDATION_FAILED, field "env.A"
 */
export function checkInput(parts: { body?: unknown; query?: unknown; params?: unknown; tenant?: unknown }): void {
  if (parts.params !== undefined) walk(parts.params, 'path', [], 0)
  if (parts.query !== undefined) walk(parts.query, 'query', [], 0)
  if (parts.tenant !== undefined) walk(parts.tenant, 'header', ['x-tenant'], 0)
  if (parts.body !== undefined) walk(parts.body, 'body', [], 0)
}

/** Depth-first over the value; `path` is one array pushed and popped on the way (no copies). */
function walk(value: unknown, where: string, path: Array<string | number>, depth: number): void {
  if (typeof value === 'string') {
    const problem = stringProblem(value)
    if (problem !== null) refuse(where, path, problem)
    return
  }
  if (value === null || typeof value !== 'object') return
  if (depth >= MAX_INPUT_DEPTH) refuse(where, path, `nests deeper than ${MAX_INPUT_DEPTH} levels`)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i)
      walk(value[i], where, path, depth + 1)
      path.pop()
    }
    return
  }
  for (const key of Object.keys(value)) {
    path.push(key)
    const problem = stringProblem(key)
    if (problem !== null) refuse(where, path, `its name ${problem}`)
    walk((value as Record<string, unknown>)[key], where, path, depth + 1)
    path.pop()
  }
}

// A NUL, a high surrogate not followed by a low one, or a low surrogate not after a high one.
const BAD = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function stringProblem(text: string): string | null {
  const bad = BAD.exec(text)
  if (bad === null) return null
  return bad[0] === '\u0000' ? 'contains a NUL character (\\u0000)' : 'contains a lone UTF-16 surrogate (not valid Unicode text)'
}

function refuse(where: string, path: Array<string | number>, message: string): never {
  const field = path.length === 0 ? `(${where})` : where === 'body' ? path.join('.') : `${where}.${path.join('.')}`
  throw new AppError('VALIDATION_FAILED', `${field}: ${message}`, { fields: [{ field, message }] })
}
