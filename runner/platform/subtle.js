// crypto.subtle beyond digest: importKey, exportKey, generateKey, sign, verify, encrypt, decrypt,
// deriveBits, deriveKey. Each operation runs in Node's WebCrypto on the host (runner/thread/
// subtle-crypto.ts), so algorithms and errors are Node's (the same as workerd's). A CryptoKey
// holds its material in a private field: a script reads it only through exportKey, and only when
// the key is extractable. A chunk (lazy.js): loaded on the first use of any of these.
import { DOMException } from './dom-exception.js'
import { toBytes } from './encoding.js'
import { current, hostCall, then } from './runtime.js'
import { brand } from './lazy.js'

const kRecord = Symbol('keyRecord')
const kConstruct = Symbol('construct')

export class CryptoKey {
  #record
  #extractable
  #usages
  #algorithm

  constructor(token, record, extractable) {
    if (token !== kConstruct) throw new TypeError('Illegal constructor')
    this.#record = record
    this.#extractable = Boolean(extractable)
    this.#usages = Object.freeze([...record.usages])
    this.#algorithm = Object.freeze(record.algorithm)
  }

  get type() { return this.#record.type }
  get extractable() { return this.#extractable }
  get algorithm() { return this.#algorithm }
  get usages() { return this.#usages }
  get [Symbol.toStringTag]() { return 'CryptoKey' }

  static [kRecord](key) {
    if (!(key instanceof CryptoKey)) throw new TypeError('the key is not a CryptoKey')
    return key.#record
  }
}

brand(CryptoKey)

const recordOf = (key) => CryptoKey[kRecord](key)

function bytes(data, what) {
  try {
    const view = toBytes(data)
    return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength)
  } catch {
    throw new TypeError(`${what} must be an ArrayBuffer or an ArrayBufferView`)
  }
}

/** An algorithm dictionary as plain data: buffers copied, a CryptoKey (ECDH's public) as its record. */
function algorithmData(algorithm) {
  if (typeof algorithm === 'string') return algorithm
  if (algorithm === null || typeof algorithm !== 'object') throw new TypeError('Algorithm: must be a string or an object with a name')
  const out = {}
  for (const key of Object.keys(algorithm)) {
    const value = algorithm[key]
    if (value instanceof CryptoKey) out[key] = recordOf(value)
    else if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) out[key] = bytes(value, key)
    else if (value !== null && typeof value === 'object') out[key] = algorithmData(value)
    else out[key] = value
  }
  return out
}

function usagesData(usages) {
  if (usages === null || typeof usages !== 'object' || typeof usages[Symbol.iterator] !== 'function') throw new TypeError('keyUsages must be a sequence of strings')
  return Array.from(usages, String)
}

function call(operation, args) {
  const run = current
  if (run === null || run.done) return Promise.reject(new TypeError('crypto.subtle can only be used while a handler runs, not at the top level of the script'))
  return then(hostCall(run, 'crypto.subtle', [operation, ...args]), (outcome) => {
    if (outcome.error !== undefined) throw new DOMException(String(outcome.error.message), String(outcome.error.name))
    return outcome.value
  })
}

const asKey = (extractable) => (record) => new CryptoKey(kConstruct, record, extractable)

/** Every failure is a rejected promise, never a synchronous throw (WebCrypto's shape). */
function promised(fn) {
  try {
    return fn()
  } catch (error) {
    return Promise.reject(error)
  }
}

export const subtle = {
  importKey(format, keyData, algorithm, extractable, usages) {
    return promised(() => {
      const data = String(format) === 'jwk' ? keyData : bytes(keyData, 'keyData')
      return then(call('importKey', [String(format), data, algorithmData(algorithm), usagesData(usages)]), asKey(extractable))
    })
  },
  exportKey(format, key) {
    return promised(() => {
      const record = recordOf(key)
      if (!key.extractable) throw new DOMException('key is not extractable', 'InvalidAccessError')
      return call('exportKey', [String(format), record])
    })
  },
  generateKey(algorithm, extractable, usages) {
    return promised(() => then(call('generateKey', [algorithmData(algorithm), usagesData(usages)]), (generated) => {
      if (generated.privateKey === undefined) return new CryptoKey(kConstruct, generated, extractable)
      // A pair's public key is always extractable (WebCrypto).
      return { publicKey: new CryptoKey(kConstruct, generated.publicKey, true), privateKey: new CryptoKey(kConstruct, generated.privateKey, extractable) }
    }))
  },
  sign(algorithm, key, data) {
    return promised(() => call('sign', [algorithmData(algorithm), recordOf(key), bytes(data, 'data')]))
  },
  verify(algorithm, key, signature, data) {
    return promised(() => call('verify', [algorithmData(algorithm), recordOf(key), bytes(signature, 'signature'), bytes(data, 'data')]))
  },
  encrypt(algorithm, key, data) {
    return promised(() => call('encrypt', [algorithmData(algorithm), recordOf(key), bytes(data, 'data')]))
  },
  decrypt(algorithm, key, data) {
    return promised(() => call('decrypt', [algorithmData(algorithm), recordOf(key), bytes(data, 'data')]))
  },
  deriveBits(algorithm, baseKey, length) {
    return promised(() => call('deriveBits', [algorithmData(algorithm), recordOf(baseKey), length === undefined ? null : length]))
  },
  deriveKey(algorithm, baseKey, derivedKeyAlgorithm, extractable, usages) {
    return promised(() => then(call('deriveKey', [algorithmData(algorithm), recordOf(baseKey), algorithmData(derivedKeyAlgorithm), usagesData(usages)]), asKey(extractable)))
  },
}

/**
 * Cloudflare's `crypto.subtle.timingSafeEqual(a, b)`: compares in time that depends only on the
 * length; buffers of different lengths are a TypeError, as in workerd.
 */
export function timingSafeEqual(a, b) {
  const x = new Uint8Array(bytes(a, 'a'))
  const y = new Uint8Array(bytes(b, 'b'))
  if (x.byteLength !== y.byteLength) throw new TypeError('Input buffers must have the same byte length')
  let diff = 0
  for (let i = 0; i < x.byteLength; i++) diff |= x[i] ^ y[i]
  return diff === 0
}
