import { isPlainObject } from './document.js'

/**
 * JSON Merge Patch (RFC 7386): `null` removes a key, an object merges into the object at its key
 * (recursively), anything else (arrays included) replaces. Neither argument is changed.
 *
 * Keys are defined, never assigned: a patch key `__proto__` (an own key of parsed JSON) stays a
 * key of the document instead of replacing the result's prototype.
 *
 * @example
 * mergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { c: 9 } }) // { b: { c: 9, d: 3 } }
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch
  const result: Record<string, unknown> = {}
  if (isPlainObject(target)) {
    for (const [key, value] of Object.entries(target)) define(result, key, value)
  }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key]
    } else {
      define(result, key, mergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value))
    }
  }
  return result
}

function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
}
