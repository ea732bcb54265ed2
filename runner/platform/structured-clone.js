// structuredClone (HTML "StructuredSerializeInternal" + deserialize in one pass): primitives,
// wrappers, Date, RegExp, ArrayBuffer and views, Map, Set, Error types, arrays and ordinary
// objects, keeping shared and circular references. Functions, symbols, WeakMap/WeakSet, promises
// and platform objects throw DataCloneError. `transfer` is refused: V8 11 in Node 20 has no way to
// detach an ArrayBuffer from JavaScript (ArrayBuffer.prototype.transfer arrived in V8 11.4).
import { DOMException } from './dom-exception.js'
import { platformPrototypes } from './lazy.js'

const getTime = Date.prototype.getTime
const regExpSource = Object.getOwnPropertyDescriptor(RegExp.prototype, 'source').get
const regExpFlags = Object.getOwnPropertyDescriptor(RegExp.prototype, 'flags').get
const bufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get
const bufferSlice = ArrayBuffer.prototype.slice
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get
const mapHas = Map.prototype.has
const setHas = Set.prototype.has
const weakMapHas = WeakMap.prototype.has
const weakSetHas = WeakSet.prototype.has
const promiseThen = Promise.prototype.then
const objectToString = Object.prototype.toString
const WRAPPER_VALUE_OF = [Boolean.prototype.valueOf, Number.prototype.valueOf, String.prototype.valueOf, BigInt.prototype.valueOf]
const ERROR_TYPES = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError }

/** Whether `value` has the internal slot that `method` checks (a brand check that cannot be spoofed). */
function branded(method, value, ...args) {
  try {
    method.call(value, ...args)
    return true
  } catch {
    return false
  }
}

function cannotClone(value) {
  let what
  try {
    what = typeof value === 'function' ? `${value.name || 'anonymous'}() {}` : typeof value === 'symbol' ? value.toString() : objectToString.call(value)
  } catch {
    what = typeof value
  }
  return new DOMException(`${what} could not be cloned.`, 'DataCloneError')
}

function defineData(target, key, value) {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
}

function cloneProperties(value, out, memory) {
  memory.set(value, out)
  for (const key of Object.keys(value)) defineData(out, key, cloneValue(value[key], memory))
  return out
}

function cloneValue(value, memory) {
  if (typeof value === 'symbol' || typeof value === 'function') throw cannotClone(value)
  if (value === null || typeof value !== 'object') return value
  const seen = memory.get(value)
  if (seen !== undefined) return seen
  let out
  const prototype = Object.getPrototypeOf(value)
  // The common cases first, without the brand checks (each a try/catch).
  if (Array.isArray(value)) {
    out = new Array(value.length)
    return cloneProperties(value, out, memory)
  }
  if (prototype === Object.prototype || prototype === null) return cloneProperties(value, {}, memory)

  const valueOf = WRAPPER_VALUE_OF.find((method) => branded(method, value))
  if (branded(getTime, value)) out = new Date(getTime.call(value))
  else if (branded(regExpSource, value) && value !== RegExp.prototype) out = new RegExp(regExpSource.call(value), regExpFlags.call(value))
  else if (branded(bufferByteLength, value)) out = bufferSlice.call(value, 0)
  else if (ArrayBuffer.isView(value)) {
    const buffer = cloneValue(value.buffer, memory)
    const tag = typedArrayTag.call(value)
    out = tag === undefined ? new DataView(buffer, value.byteOffset, value.byteLength) : new globalThis[tag](buffer, value.byteOffset, value.length)
  } else if (valueOf !== undefined) {
    out = Object(valueOf.call(value))
  } else if (branded(mapHas, value, undefined)) {
    out = new Map()
    memory.set(value, out)
    for (const [k, v] of Array.from(Map.prototype.entries.call(value))) out.set(cloneValue(k, memory), cloneValue(v, memory))
    return out
  } else if (branded(setHas, value, undefined)) {
    out = new Set()
    memory.set(value, out)
    for (const v of Array.from(Set.prototype.values.call(value))) out.add(cloneValue(v, memory))
    return out
  } else if (branded(weakMapHas, value, {}) || branded(weakSetHas, value, {}) || branded(promiseThen, value) || platformPrototypes.has(prototype)) {
    throw cannotClone(value)
  } else if (value instanceof DOMException) {
    out = new DOMException(value.message, value.name)
  } else if (value instanceof Error) {
    const name = Object.hasOwn(ERROR_TYPES, value.name) ? value.name : 'Error'
    out = new ERROR_TYPES[name](String(value.message))
    memory.set(value, out)
    if (typeof value.stack === 'string') Object.defineProperty(out, 'stack', { value: value.stack, writable: true, configurable: true })
    if ('cause' in value) Object.defineProperty(out, 'cause', { value: cloneValue(value.cause, memory), writable: true, configurable: true })
    return out
  } else {
    // An ordinary object of some class: cloned as a plain object of its own enumerable properties.
    return cloneProperties(value, {}, memory)
  }
  memory.set(value, out)
  return out
}

export function structuredClone(value, options = undefined) {
  if (arguments.length === 0) throw new TypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.")
  const transfer = options === undefined || options === null ? [] : Array.from(options.transfer ?? [])
  if (transfer.length > 0) throw new DOMException('structuredClone: transfer is not supported', 'DataCloneError')
  return cloneValue(value, new Map())
}
