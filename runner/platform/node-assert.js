// `node:assert`: Node's assertion functions with its strict deep equality. A chunk.
import { format } from './console.js'

export class AssertionError extends Error {
  constructor(options = {}) {
    super(options.message ?? `${format([options.actual])} ${options.operator ?? '=='} ${format([options.expected])}`)
    this.name = 'AssertionError'
    this.code = 'ERR_ASSERTION'
    this.actual = options.actual
    this.expected = options.expected
    this.operator = options.operator
    this.generatedMessage = options.message === undefined
  }
}

function fail(message, actual, expected, operator) {
  if (message instanceof Error) throw message
  throw new AssertionError({ message, actual, expected, operator })
}

/** Node's isDeepStrictEqual: same prototypes, own enumerable keys, SameValue for primitives. */
export function isDeepStrictEqual(a, b, seen = new Map()) {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (seen.get(a) === b) return true
  seen.set(a, b)
  if (a instanceof Date) return a.getTime() === b.getTime()
  if (a instanceof RegExp) return String(a) === String(b)
  if (ArrayBuffer.isView(a)) {
    if (a.byteLength !== b.byteLength) return false
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  }
  if (a instanceof Map) {
    if (a.size !== b.size) return false
    for (const [key, value] of a) if (!b.has(key) || !isDeepStrictEqual(value, b.get(key), seen)) return false
  }
  if (a instanceof Set) {
    if (a.size !== b.size) return false
    for (const value of a) if (!b.has(value)) return false
  }
  const keysA = Object.keys(a)
  const keysB = Object.keys(b)
  if (keysA.length !== keysB.length) return false
  for (const key of keysA) {
    if (!Object.prototype.hasOwnProperty.call(b, key) || !isDeepStrictEqual(a[key], b[key], seen)) return false
  }
  return true
}

function matches(error, expected) {
  if (expected === undefined) return true
  if (typeof expected === 'function') return expected.prototype !== undefined && error instanceof expected ? true : expected.prototype === undefined ? expected(error) === true : false
  if (expected instanceof RegExp) return expected.test(String(error?.message ?? error))
  return Object.keys(expected).every((key) => expected[key] instanceof RegExp ? expected[key].test(error?.[key]) : isDeepStrictEqual(error?.[key], expected[key]))
}

export function ok(value, message) { if (!value) fail(message ?? 'The expression evaluated to a falsy value', value, true, '==') }
export function equal(actual, expected, message) { if (!(actual == expected || (actual !== actual && expected !== expected))) fail(message, actual, expected, '==') }
export function notEqual(actual, expected, message) { if (actual == expected) fail(message, actual, expected, '!=') }
export function strictEqual(actual, expected, message) { if (!Object.is(actual, expected)) fail(message, actual, expected, 'strictEqual') }
export function notStrictEqual(actual, expected, message) { if (Object.is(actual, expected)) fail(message, actual, expected, 'notStrictEqual') }
export function deepStrictEqual(actual, expected, message) { if (!isDeepStrictEqual(actual, expected)) fail(message, actual, expected, 'deepStrictEqual') }
export function notDeepStrictEqual(actual, expected, message) { if (isDeepStrictEqual(actual, expected)) fail(message, actual, expected, 'notDeepStrictEqual') }
export const deepEqual = deepStrictEqual
export const notDeepEqual = notDeepStrictEqual
export function match(string, regexp, message) { if (!regexp.test(string)) fail(message, string, regexp, 'match') }
export function doesNotMatch(string, regexp, message) { if (regexp.test(string)) fail(message, string, regexp, 'doesNotMatch') }
export function throws(fn, expected, message) {
  try {
    fn()
  } catch (error) {
    if (!matches(error, expected)) throw error
    return
  }
  fail(typeof expected === 'string' ? expected : message ?? 'Missing expected exception.', undefined, expected, 'throws')
}
export function doesNotThrow(fn, message) {
  try {
    fn()
  } catch (error) {
    fail(message ?? `Got unwanted exception: ${error?.message ?? error}`, error, undefined, 'doesNotThrow')
  }
}
export async function rejects(promiseOrFn, expected, message) {
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn)
  } catch (error) {
    if (!matches(error, expected)) throw error
    return
  }
  fail(typeof expected === 'string' ? expected : message ?? 'Missing expected rejection.', undefined, expected, 'rejects')
}
export function failAssertion(message = 'Failed') { fail(message, undefined, undefined, 'fail') }

function assert(value, message) { ok(value, message) }
Object.assign(assert, { AssertionError, ok, equal, notEqual, strictEqual, notStrictEqual, deepEqual, notDeepEqual, deepStrictEqual, notDeepStrictEqual, match, doesNotMatch, throws, doesNotThrow, rejects, fail: failAssertion })
assert.strict = assert
export { failAssertion as fail, assert as strict }
export default assert
