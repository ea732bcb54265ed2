// CompressionStream and DecompressionStream (gzip, deflate, deflate-raw) on fflate's streaming
// compressors, as TransformStreams of bytes. A chunk (lazy.js), loaded on first use.
import { Deflate, Gunzip, Gzip, Inflate, Unzlib, Zlib } from 'fflate'
import { toBytes } from './encoding.js'
import { brand, streams } from './lazy.js'

const FORMATS = new Set(['gzip', 'deflate', 'deflate-raw'])

function format(value, what) {
  const name = String(value)
  if (!FORMATS.has(name)) throw new TypeError(`Failed to construct '${what}': Unsupported compression format: '${name}'`)
  return name
}

function transformWith(engine) {
  let controllerRef = null
  engine.ondata = (chunk) => {
    if (chunk.byteLength > 0) controllerRef.enqueue(chunk)
  }
  return new (streams().TransformStream)({
    start(controller) { controllerRef = controller },
    transform(chunk) {
      let bytes
      try {
        bytes = toBytes(chunk)
      } catch {
        throw new TypeError('The compression stream takes BufferSource chunks')
      }
      engine.push(bytes.slice(), false)
    },
    flush() { engine.push(new Uint8Array(0), true) },
  })
}

export class CompressionStream {
  #transform
  constructor(kind) {
    const name = format(kind, 'CompressionStream')
    this.#transform = transformWith(name === 'gzip' ? new Gzip() : name === 'deflate' ? new Zlib() : new Deflate())
  }
  get readable() { return this.#transform.readable }
  get writable() { return this.#transform.writable }
  get [Symbol.toStringTag]() { return 'CompressionStream' }
}

export class DecompressionStream {
  #transform
  constructor(kind) {
    const name = format(kind, 'DecompressionStream')
    this.#transform = transformWith(name === 'gzip' ? new Gunzip() : name === 'deflate' ? new Unzlib() : new Inflate())
  }
  get readable() { return this.#transform.readable }
  get writable() { return this.#transform.writable }
  get [Symbol.toStringTag]() { return 'DecompressionStream' }
}

brand(CompressionStream, DecompressionStream)
