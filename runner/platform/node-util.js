// `node:util`: the parts Workers' nodejs_compat offers that scripts use: promisify, callbackify,
// inherits, format, inspect, isDeepStrictEqual, types, TextEncoder, TextDecoder. A chunk.
import { format as formatArgs } from './console.js'
import { TextDecoder, TextEncoder } from './encoding.js'
import { isDeepStrictEqual } from './node-assert.js'

const kCustomPromisify = Symbol.for('nodejs.util.promisify.custom')

export function promisify(original) {
  if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type function')
  if (typeof original[kCustomPromisify] === 'function') return original[kCustomPromisify]
  function promisified(...args) {
    return new Promise((resolve, reject) => {
      original.call(this, ...args, (error, value) => (error ? reject(error) : resolve(value)))
    })
  }
  Object.setPrototypeOf(promisified, Object.getPrototypeOf(original))
  return Object.defineProperties(promisified, Object.getOwnPropertyDescriptors(original))
}
promisify.custom = kCustomPromisify

export function callbackify(original) {
  if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type function')
  return function (...args) {
    const callback = args.pop()
    if (typeof callback !== 'function') throw new TypeError('The last argument must be of type function')
    original.apply(this, args).then((value) => callback(null, value), (error) => callback(error ?? new Error('Promise was rejected with a falsy value')))
  }
}

export function inherits(ctor, superCtor) {
  Object.defineProperty(ctor, 'super_', { value: superCtor, writable: true, configurable: true })
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype)
}

/** util.format: %s %d %i %f %j %o %O %% as Node does them; other arguments joined by spaces. */
export function format(first, ...args) {
  if (typeof first !== 'string') return formatArgs([first, ...args])
  let i = 0
  const out = first.replace(/%([sdifjoO%])/g, (match, kind) => {
    if (kind === '%') return '%'
    if (i >= args.length) return match
    const value = args[i++]
    switch (kind) {
      case 's': return typeof value === 'string' ? value : formatArgs([value])
      case 'd': case 'i': return String(kind === 'i' ? Math.trunc(Number(value)) : Number(value))
      case 'f': return String(Number.parseFloat(value))
      case 'j': try { return JSON.stringify(value) } catch { return '[Circular]' }
      default: return formatArgs([value])
    }
  })
  return args.length > i ? `${out} ${formatArgs(args.slice(i))}` : out
}

export function inspect(value) {
  return formatArgs([value])
}

const tag = (value) => Object.prototype.toString.call(value).slice(8, -1)
export const types = Object.freeze({
  isPromise: (value) => value instanceof Promise,
  isDate: (value) => value instanceof Date,
  isRegExp: (value) => value instanceof RegExp,
  isMap: (value) => value instanceof Map,
  isSet: (value) => value instanceof Set,
  isAsyncFunction: (value) => typeof value === 'function' && tag(value) === 'AsyncFunction',
  isGeneratorFunction: (value) => typeof value === 'function' && /GeneratorFunction$/.test(tag(value)),
  isArrayBuffer: (value) => value instanceof ArrayBuffer,
  isArrayBufferView: (value) => ArrayBuffer.isView(value),
  isTypedArray: (value) => ArrayBuffer.isView(value) && !(value instanceof DataView),
  isUint8Array: (value) => value instanceof Uint8Array,
  isNativeError: (value) => value instanceof Error,
})

export { TextDecoder, TextEncoder, isDeepStrictEqual }
export default { promisify, callbackify, inherits, format, inspect, types, isDeepStrictEqual, TextEncoder, TextDecoder }
