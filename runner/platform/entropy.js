// The isolate's CSPRNG. Each context is seeded with 32 bytes from the host's CSPRNG (node:crypto
// randomBytes) when it boots, and the seed is expanded with ChaCha20 (RFC 8439, from the audited
// @noble/ciphers, loaded on the first draw) with fast key erasure: every refill draws the next key
// from the keystream and wipes what it hands out, so a later state does not reveal earlier output.
// Never Math.random. No host call per draw, so getRandomValues stays synchronous and cheap.
import { loadChunk } from './chunks.js'

const REFILL_BYTES = 4096
const NONCE = new Uint8Array(12)

let key = null
let pool = new Uint8Array(0)
let offset = 0

export function seedRandom(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length < 32) throw new TypeError('isogate: the entropy seed must be 32 bytes')
  key = bytes.slice(0, 32)
  pool = new Uint8Array(0)
  offset = 0
}

function refill() {
  if (key === null) throw new Error('isogate: no entropy, the platform was not seeded by the host')
  const { chacha20 } = loadChunk('noble-chacha')
  const block = chacha20(key, NONCE, new Uint8Array(32 + REFILL_BYTES))
  key = block.slice(0, 32)
  block.fill(0, 0, 32)
  pool = block.subarray(32)
  offset = 0
}

export function randomInto(target) {
  let written = 0
  while (written < target.length) {
    if (offset === pool.length) refill()
    const n = Math.min(target.length - written, pool.length - offset)
    target.set(pool.subarray(offset, offset + n), written)
    pool.fill(0, offset, offset + n)
    offset += n
    written += n
  }
}
