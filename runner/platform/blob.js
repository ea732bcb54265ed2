// Blob and File (W3C File API), held whole in memory as one Uint8Array: bodies in isogate are
// bytes already, so there is nothing to stream from. A chunk (lazy.js), loaded on first use.
import { TextDecoder, TextEncoder, toBytes } from './encoding.js'
import { brand } from './lazy.js'
import { streams } from './lazy.js'

const kBytes = Symbol('bytes')

function normalizeType(type) {
  const value = type === undefined ? '' : String(type)
  // A type with a character outside U+0020..U+007E is the empty string (File API, "type").
  return /^[\x20-\x7e]*$/.test(value) ? value.toLowerCase() : ''
}

function partBytes(part, endings) {
  if (part instanceof Blob) return part[kBytes]
  if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) return toBytes(part).slice()
  let text = String(part)
  if (endings === 'native') text = text.replace(/\r\n|\r/g, '\n')
  return new TextEncoder().encode(text)
}

export class Blob {
  #type

  constructor(parts = [], options = {}) {
    if (parts === null || typeof parts !== 'object' || typeof parts[Symbol.iterator] !== 'function') {
      throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.")
    }
    const endings = options?.endings === 'native' ? 'native' : 'transparent'
    const chunks = Array.from(parts, (part) => partBytes(part, endings))
    let size = 0
    for (const chunk of chunks) size += chunk.byteLength
    const bytes = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
    this[kBytes] = bytes
    this.#type = normalizeType(options?.type)
  }

  get size() { return this[kBytes].byteLength }
  get type() { return this.#type }
  get [Symbol.toStringTag]() { return 'Blob' }

  slice(start = 0, end = this.size, contentType = '') {
    const size = this.size
    const from = start < 0 ? Math.max(size + start, 0) : Math.min(start, size)
    const to = end < 0 ? Math.max(size + end, 0) : Math.min(end, size)
    const blob = new Blob([], { type: contentType })
    blob[kBytes] = this[kBytes].slice(from, Math.max(from, to))
    return blob
  }

  async text() { return new TextDecoder().decode(this[kBytes]) }
  async arrayBuffer() { return this[kBytes].slice().buffer }
  async bytes() { return this[kBytes].slice() }

  stream() {
    const bytes = this[kBytes].slice()
    return new (streams().ReadableStream)({
      type: 'bytes',
      start(controller) {
        if (bytes.byteLength > 0) controller.enqueue(bytes)
        controller.close()
      },
    })
  }
}

export class File extends Blob {
  #name
  #lastModified

  constructor(parts, name, options = {}) {
    if (arguments.length < 2) throw new TypeError("Failed to construct 'File': 2 arguments required, but only " + arguments.length + ' present.')
    super(parts, options)
    this.#name = String(name)
    this.#lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified)
  }

  get name() { return this.#name }
  get lastModified() { return this.#lastModified }
  get webkitRelativePath() { return '' }
  get [Symbol.toStringTag]() { return 'File' }
}

/** A Blob's bytes, without a copy (the platform's own readers: bodies, FormData). */
export function blobBytes(blob) {
  return blob[kBytes]
}

brand(Blob, File)
