// Web Crypto: crypto.getRandomValues, crypto.randomUUID, crypto.subtle.digest (SHA-1, SHA-256,
// SHA-384, SHA-512, in the isolate) and the rest of crypto.subtle (on the host, subtle.js).
//
// Entropy comes from the host (see entropy.js). The module is loaded on first use (lazy.js), and
// the @noble hashes on the first digest of their kind.
import { loadChunk } from './chunks.js'
import { DOMException } from './dom-exception.js'
import { toBytes } from './encoding.js'
import { randomInto } from './entropy.js'
import { brand } from './lazy.js'

const MAX_BYTES = 65536
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get
const INTEGER_ARRAYS = new Set(['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'])

export function getRandomValues(array) {
  const tag = ArrayBuffer.isView(array) ? typedArrayTag.call(array) : undefined
  if (!INTEGER_ARRAYS.has(tag)) {
    throw new DOMException("Failed to execute 'getRandomValues' on 'Crypto': The provided ArrayBufferView is not an integer array type.", 'TypeMismatchError')
  }
  if (array.byteLength > MAX_BYTES) {
    throw new DOMException(`Failed to execute 'getRandomValues' on 'Crypto': The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (${MAX_BYTES}).`, 'QuotaExceededError')
  }
  randomInto(new Uint8Array(array.buffer, array.byteOffset, array.byteLength))
  return array
}

let HEX = null

export function randomUUID() {
  HEX ??= Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
  const b = new Uint8Array(16)
  randomInto(b)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  return `${HEX[b[0]]}${HEX[b[1]]}${HEX[b[2]]}${HEX[b[3]]}-${HEX[b[4]]}${HEX[b[5]]}-${HEX[b[6]]}${HEX[b[7]]}-${HEX[b[8]]}${HEX[b[9]]}-${HEX[b[10]]}${HEX[b[11]]}${HEX[b[12]]}${HEX[b[13]]}${HEX[b[14]]}${HEX[b[15]]}`
}

function hashFunction(name) {
  switch (name) {
    case 'SHA-1': return loadChunk('noble-hashes').sha1
    case 'SHA-256': return loadChunk('noble-hashes').sha256
    case 'SHA-384': return loadChunk('noble-hashes').sha384
    case 'SHA-512': return loadChunk('noble-hashes').sha512
    default: return null
  }
}

function algorithmName(algorithm) {
  const name = typeof algorithm === 'string' ? algorithm : algorithm !== null && typeof algorithm === 'object' ? algorithm.name : undefined
  if (typeof name !== 'string') throw new TypeError("Failed to execute 'digest' on 'SubtleCrypto': Algorithm: name is missing")
  return name.toUpperCase()
}

async function digest(algorithm, data) {
  const name = algorithmName(algorithm)
  const hash = hashFunction(name)
  if (hash === null) throw new DOMException(`Unrecognized algorithm name: ${name}`, 'NotSupportedError')
  // A copy: the spec hashes the bytes as they were when digest() was called.
  const bytes = toBytes(data).slice()
  const out = hash(bytes)
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength)
}

const subtle = () => loadChunk('subtle')

export class SubtleCrypto {
  digest(algorithm, data) {
    // Spec-shaped: every failure is a rejected promise, never a synchronous throw.
    return digest(algorithm, data)
  }

  importKey(format, keyData, algorithm, extractable, usages) { return subtle().subtle.importKey(format, keyData, algorithm, extractable, usages) }
  exportKey(format, key) { return subtle().subtle.exportKey(format, key) }
  generateKey(algorithm, extractable, usages) { return subtle().subtle.generateKey(algorithm, extractable, usages) }
  sign(algorithm, key, data) { return subtle().subtle.sign(algorithm, key, data) }
  verify(algorithm, key, signature, data) { return subtle().subtle.verify(algorithm, key, signature, data) }
  encrypt(algorithm, key, data) { return subtle().subtle.encrypt(algorithm, key, data) }
  decrypt(algorithm, key, data) { return subtle().subtle.decrypt(algorithm, key, data) }
  deriveBits(algorithm, baseKey, length) { return subtle().subtle.deriveBits(algorithm, baseKey, length) }
  deriveKey(algorithm, baseKey, derivedKeyAlgorithm, extractable, usages) { return subtle().subtle.deriveKey(algorithm, baseKey, derivedKeyAlgorithm, extractable, usages) }
  /** Cloudflare's extension: a constant-time comparison of two buffers of one length. */
  timingSafeEqual(a, b) { return subtle().timingSafeEqual(a, b) }

  get [Symbol.toStringTag]() { return 'SubtleCrypto' }
}

export class Crypto {
  #subtle = new SubtleCrypto()
  get subtle() { return this.#subtle }
  getRandomValues(array) { return getRandomValues(array) }
  randomUUID() { return randomUUID() }
  get [Symbol.toStringTag]() { return 'Crypto' }
}

brand(Crypto, SubtleCrypto)

export const crypto = new Crypto()
