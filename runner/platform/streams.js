// WHATWG Streams from web-streams-polyfill (the reference implementation's port, as a ponyfill:
// nothing is put on the global object by it), and the stream classes built on them that the
// platform offers: TextEncoderStream, TextDecoderStream. A chunk (lazy.js), loaded on first use.
import {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableByteStreamController,
  ReadableStream,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableStreamDefaultController,
  ReadableStreamDefaultReader,
  TransformStream,
  TransformStreamDefaultController,
  WritableStream,
  WritableStreamDefaultController,
  WritableStreamDefaultWriter,
} from 'web-streams-polyfill'
import { TextDecoder, TextEncoder } from './encoding.js'
import { brand } from './lazy.js'

export {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableByteStreamController,
  ReadableStream,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableStreamDefaultController,
  ReadableStreamDefaultReader,
  TransformStream,
  TransformStreamDefaultController,
  WritableStream,
  WritableStreamDefaultController,
  WritableStreamDefaultWriter,
}

export class TextEncoderStream {
  #transform
  constructor() {
    const encoder = new TextEncoder()
    let pending = ''
    this.#transform = new TransformStream({
      transform(chunk, controller) {
        let text = pending + String(chunk)
        pending = ''
        // A lone high surrogate at the end may pair with the next chunk's first unit.
        const last = text.charCodeAt(text.length - 1)
        if (last >= 0xd800 && last <= 0xdbff) {
          pending = text.slice(-1)
          text = text.slice(0, -1)
        }
        if (text.length > 0) controller.enqueue(encoder.encode(text))
      },
      flush(controller) {
        if (pending !== '') controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]))
      },
    })
  }
  get encoding() { return 'utf-8' }
  get readable() { return this.#transform.readable }
  get writable() { return this.#transform.writable }
  get [Symbol.toStringTag]() { return 'TextEncoderStream' }
}

export class TextDecoderStream {
  #transform
  #decoder
  constructor(label = 'utf-8', options = {}) {
    const decoder = (this.#decoder = new TextDecoder(label, options))
    this.#transform = new TransformStream({
      transform(chunk, controller) {
        const text = decoder.decode(chunk, { stream: true })
        if (text !== '') controller.enqueue(text)
      },
      flush(controller) {
        const text = decoder.decode()
        if (text !== '') controller.enqueue(text)
      },
    })
  }
  get encoding() { return this.#decoder.encoding }
  get fatal() { return this.#decoder.fatal }
  get ignoreBOM() { return this.#decoder.ignoreBOM }
  get readable() { return this.#transform.readable }
  get writable() { return this.#transform.writable }
  get [Symbol.toStringTag]() { return 'TextDecoderStream' }
}

brand(ReadableStream, WritableStream, TransformStream, TextEncoderStream, TextDecoderStream)

/** Reads a stream of byte chunks (Uint8Array, ArrayBuffer or views) to one Uint8Array. */
export async function readAll(stream) {
  const reader = stream.getReader()
  const chunks = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    let bytes
    if (value instanceof Uint8Array) bytes = value
    else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value)
    else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    else if (typeof value === 'string') bytes = new TextEncoder().encode(value)
    else throw new TypeError('a body stream must produce Uint8Array chunks')
    chunks.push(bytes)
    size += bytes.byteLength
  }
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/** A ReadableStream of one chunk: a buffered body read as a stream. */
export function streamOf(bytes) {
  return new ReadableStream({
    type: 'bytes',
    start(controller) {
      if (bytes !== null && bytes.byteLength > 0) controller.enqueue(bytes)
      controller.close()
    },
  })
}
