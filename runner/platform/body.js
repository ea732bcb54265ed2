// The Body mixin for Request and Response. A body is held as a string or bytes, or as a
// ReadableStream when the script made it from one (or asked for `.body`); streams, Blob and
// FormData live in chunks (lazy.js) and are only loaded when a script uses them.
import { TextDecoder, TextEncoder, toBytes } from './encoding.js'
import { blob, formData, loadedChunk, streams } from './lazy.js'
import { isURLSearchParams } from './url.js'

export const kBody = Symbol('body')
const kUsed = Symbol('bodyUsed')

/** Whether `value` is an instance of a class of the chunk `name`, without loading it. */
function isChunkInstance(value, name, className) {
  const chunk = loadedChunk(name)
  return chunk !== null && value instanceof chunk[className]
}

export const isReadableStream = (value) => isChunkInstance(value, 'streams', 'ReadableStream')
export const isBlob = (value) => isChunkInstance(value, 'blob', 'Blob')
export const isFormData = (value) => isChunkInstance(value, 'form-data', 'FormData')

/** Turns a BodyInit into `{ body, contentType }`; body is null, a string, a Uint8Array or a ReadableStream. */
export function extractBody(init) {
  if (init == null) return { body: null, contentType: null }
  if (typeof init === 'string') return { body: init, contentType: 'text/plain;charset=UTF-8' }
  if (init instanceof ArrayBuffer || ArrayBuffer.isView(init)) return { body: toBytes(init).slice(), contentType: null }
  if (isURLSearchParams(init)) {
    return { body: init.toString(), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' }
  }
  if (isBlob(init)) return { body: blob().blobBytes(init).slice(), contentType: init.type === '' ? null : init.type }
  if (isFormData(init)) return formData().encodeMultipart(init)
  if (isReadableStream(init)) {
    if (init.locked) throw new TypeError('Response body object should not be disturbed or locked')
    return { body: init, contentType: null }
  }
  if (typeof init === 'object' && typeof init.getReader === 'function') {
    throw new TypeError('a body stream must be a ReadableStream of this platform')
  }
  return { body: String(init), contentType: 'text/plain;charset=UTF-8' }
}

function consume(target) {
  if (target[kUsed]) throw new TypeError('Body has already been used')
  const body = target[kBody]
  if (isReadableStream(body) && (body.locked || streams().disturbed?.(body))) throw new TypeError('Body has already been used')
  target[kUsed] = true
  return body
}

/** The body's bytes (null for none), reading a stream to its end. */
export async function bodyBytes(target) {
  const body = consume(target)
  if (body === null) return null
  if (typeof body === 'string') return new TextEncoder().encode(body)
  if (body instanceof Uint8Array) return body
  return streams().readAll(body)
}

export class Body {
  get bodyUsed() { return Boolean(this[kUsed]) }

  /** The body as a ReadableStream of Uint8Array (null when there is none). */
  get body() {
    const body = this[kBody]
    if (body === null || isReadableStream(body)) return body
    const stream = streams().streamOf(typeof body === 'string' ? new TextEncoder().encode(body) : body)
    this[kBody] = stream
    return stream
  }

  async text() {
    const body = this[kBody]
    if (typeof body === 'string' && !this[kUsed]) {
      consume(this)
      return body
    }
    const bytes = await bodyBytes(this)
    return bytes === null ? '' : new TextDecoder().decode(bytes)
  }

  async json() {
    return JSON.parse(await this.text())
  }

  async arrayBuffer() {
    const bytes = await this.bytes()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  }

  async bytes() {
    const bytes = await bodyBytes(this)
    return bytes === null ? new Uint8Array(0) : bytes.slice()
  }

  async formData() {
    const bytes = await bodyBytes(this)
    return formData().decodeFormData(bytes ?? new Uint8Array(0), this.headers.get('content-type'))
  }

  async blob() {
    const bytes = await bodyBytes(this)
    const type = this.headers.get('content-type') ?? ''
    return new (blob().Blob)(bytes === null ? [] : [bytes], { type })
  }
}

export function cloneBody(source) {
  if (source[kUsed]) throw new TypeError('cannot clone: body has already been used')
  const body = source[kBody]
  if (isReadableStream(body)) {
    const [a, b] = body.tee()
    source[kBody] = a
    return b
  }
  return body instanceof Uint8Array ? body.slice() : body
}

/**
 * The body as it leaves the isolate: null, a string or bytes, a stream read to its end. A stream
 * that produces more than `limit` bytes is cancelled there: `{ over: true }`.
 */
export async function settledBody(target, limit) {
  const body = target[kBody]
  if (!isReadableStream(body)) return { body }
  const reader = body.getReader()
  const chunks = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : toBytes(value)
    size += bytes.byteLength
    if (size > limit) {
      reader.cancel().catch(() => {})
      return { over: true, body: null }
    }
    chunks.push(bytes)
  }
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { body: out }
}
