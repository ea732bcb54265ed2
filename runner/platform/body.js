// The Body mixin for Request and Response. Bodies are held whole (no streams): a string or bytes.
import { TextDecoder, TextEncoder, toBytes } from './encoding.js'
import { isURLSearchParams } from './url.js'

export const kBody = Symbol('body')
const kUsed = Symbol('bodyUsed')

/** Turns a BodyInit into `{ body, contentType }`; body is null, a string or a Uint8Array. */
export function extractBody(init) {
  if (init == null) return { body: null, contentType: null }
  if (typeof init === 'string') return { body: init, contentType: 'text/plain;charset=UTF-8' }
  if (init instanceof ArrayBuffer || ArrayBuffer.isView(init)) return { body: toBytes(init).slice(), contentType: null }
  if (isURLSearchParams(init)) {
    return { body: init.toString(), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' }
  }
  if (typeof init === 'object' && typeof init.getReader === 'function') {
    throw new TypeError('streaming bodies are not supported: pass a string, an ArrayBuffer or a typed array')
  }
  return { body: String(init), contentType: 'text/plain;charset=UTF-8' }
}

function consume(target) {
  if (target[kUsed]) throw new TypeError('Body has already been used')
  target[kUsed] = true
  return target[kBody]
}

export class Body {
  get bodyUsed() { return Boolean(this[kUsed]) }
  get body() { return null }

  async text() {
    const body = consume(this)
    if (body === null) return ''
    return typeof body === 'string' ? body : new TextDecoder().decode(body)
  }

  async json() {
    return JSON.parse(await this.text())
  }

  async arrayBuffer() {
    const bytes = await this.bytes()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  }

  async bytes() {
    const body = consume(this)
    if (body === null) return new Uint8Array(0)
    return typeof body === 'string' ? new TextEncoder().encode(body) : body.slice()
  }

  async formData() {
    throw new TypeError('formData() is not supported')
  }

  async blob() {
    throw new TypeError('blob() is not supported')
  }
}

export function cloneBody(source) {
  if (source[kUsed]) throw new TypeError('cannot clone: body has already been used')
  const body = source[kBody]
  return body instanceof Uint8Array ? body.slice() : body
}
