// `node:crypto`: createHash and createHmac (the @noble/hashes digests), randomUUID, randomBytes,
// getRandomValues, timingSafeEqual, and webcrypto/subtle. A chunk.
import { hmac } from '@noble/hashes/hmac.js'
import { md5 } from '@noble/hashes/legacy.js'
import { TextEncoder, toBytes } from './encoding.js'
import { loadChunk } from './chunks.js'
import { webCrypto } from './lazy.js'

const nodeBuffer = () => loadChunk('node-buffer').Buffer

function hashOf(name) {
  const hashes = loadChunk('noble-hashes')
  switch (String(name).toLowerCase().replace('-', '')) {
    case 'sha1': return hashes.sha1
    case 'sha256': return hashes.sha256
    case 'sha384': return hashes.sha384
    case 'sha512': return hashes.sha512
    case 'md5': return md5
    default: {
      const error = new Error(`Digest method not supported: ${name}`)
      error.code = 'ERR_CRYPTO_INVALID_DIGEST'
      throw error
    }
  }
}

function dataBytes(data, encoding) {
  if (typeof data === 'string') return encoding === undefined || encoding === 'utf8' || encoding === 'utf-8' ? new TextEncoder().encode(data) : nodeBuffer().from(data, encoding)
  return toBytes(data)
}

function output(bytes, encoding) {
  const buffer = nodeBuffer().from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return encoding === undefined ? buffer : buffer.toString(encoding)
}

class Digest {
  #state
  #done = false
  constructor(state) { this.#state = state }
  update(data, encoding) {
    if (this.#done) throw new Error('Digest already called')
    this.#state.update(dataBytes(data, encoding))
    return this
  }
  digest(encoding) {
    if (this.#done) throw new Error('Digest already called')
    this.#done = true
    return output(this.#state.digest(), encoding)
  }
}

export class Hash extends Digest {}
export class Hmac extends Digest {}

export function createHash(algorithm) {
  return new Hash(hashOf(algorithm).create())
}

export function createHmac(algorithm, key) {
  return new Hmac(hmac.create(hashOf(algorithm), dataBytes(key)))
}

export function randomUUID() {
  return webCrypto().randomUUID()
}

export function getRandomValues(array) {
  return webCrypto().getRandomValues(array)
}

export function randomBytes(size) {
  const bytes = new Uint8Array(size)
  for (let offset = 0; offset < size; offset += 65536) webCrypto().getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)))
  return output(bytes)
}

export function timingSafeEqual(a, b) {
  const x = toBytes(a)
  const y = toBytes(b)
  if (x.byteLength !== y.byteLength) {
    const error = new RangeError('Input buffers must have the same byte length')
    error.code = 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH'
    throw error
  }
  let diff = 0
  for (let i = 0; i < x.byteLength; i++) diff |= x[i] ^ y[i]
  return diff === 0
}

export const webcrypto = webCrypto().crypto
export const subtle = webcrypto.subtle
export function getHashes() { return ['md5', 'sha1', 'sha256', 'sha384', 'sha512'] }
export default { createHash, createHmac, randomUUID, getRandomValues, randomBytes, timingSafeEqual, webcrypto, subtle, getHashes, Hash, Hmac }
