// FormData, and the two body formats it reads and writes: application/x-www-form-urlencoded and
// multipart/form-data. Multipart bodies are parsed by @mjackson/multipart-parser (a small,
// spec-minded, dependency-free parser); what it yields becomes strings and Files here.
// A chunk (lazy.js), loaded on first use.
import { getMultipartBoundary, parseMultipart } from '@mjackson/multipart-parser'
import { TextDecoder, TextEncoder } from './encoding.js'
import { blob as blobModule, brand } from './lazy.js'
import { webUrl } from './url.js'

function entryValue(value, filename) {
  const { Blob, File } = blobModule()
  if (value instanceof Blob) {
    if (value instanceof File && filename === undefined) return value
    return new File([value], filename === undefined ? (value instanceof File ? value.name : 'blob') : String(filename), { type: value.type, lastModified: value instanceof File ? value.lastModified : undefined })
  }
  return String(value)
}

export class FormData {
  #entries = []

  constructor(form) {
    if (form !== undefined) throw new TypeError("Failed to construct 'FormData': there are no HTML forms here; pass nothing")
  }

  append(name, value, filename) { this.#entries.push([String(name), entryValue(value, filename)]) }
  delete(name) { name = String(name); this.#entries = this.#entries.filter(([key]) => key !== name) }
  get(name) { name = String(name); const entry = this.#entries.find(([key]) => key === name); return entry === undefined ? null : entry[1] }
  getAll(name) { name = String(name); return this.#entries.filter(([key]) => key === name).map(([, value]) => value) }
  has(name) { name = String(name); return this.#entries.some(([key]) => key === name) }

  set(name, value, filename) {
    name = String(name)
    const entry = [name, entryValue(value, filename)]
    const index = this.#entries.findIndex(([key]) => key === name)
    if (index === -1) {
      this.#entries.push(entry)
      return
    }
    this.#entries[index] = entry
    this.#entries = this.#entries.filter(([key], i) => key !== name || i === index)
  }

  forEach(callback, thisArg) {
    for (const [name, value] of this) callback.call(thisArg, value, name, this)
  }

  * entries() { for (const [name, value] of this.#entries) yield [name, value] }
  * keys() { for (const [name] of this.#entries) yield name }
  * values() { for (const [, value] of this.#entries) yield value }
  [Symbol.iterator]() { return this.entries() }
  get [Symbol.toStringTag]() { return 'FormData' }
}

brand(FormData)

const encoder = new TextEncoder()
const escapeName = (name) => name.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22')

/** A FormData as a multipart/form-data body: `{ body: Uint8Array, contentType }`. */
export function encodeMultipart(form) {
  const { blobBytes } = blobModule()
  const boundary = `----isogateFormBoundary${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
  const parts = []
  for (const [name, value] of form) {
    if (typeof value === 'string') {
      parts.push(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n${value.replace(/\r(?!\n)|(?<!\r)\n/g, '\r\n')}\r\n`))
    } else {
      parts.push(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`))
      parts.push(blobBytes(value))
      parts.push(encoder.encode('\r\n'))
    }
  }
  parts.push(encoder.encode(`--${boundary}--\r\n`))
  let size = 0
  for (const part of parts) size += part.byteLength
  const body = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    body.set(part, offset)
    offset += part.byteLength
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` }
}

/** Parses a body as FormData by its content type (Body.formData()); a TypeError when it is neither format. */
export function decodeFormData(bytes, contentType) {
  const type = String(contentType ?? '').split(';')[0].trim().toLowerCase()
  const form = new FormData()
  if (type === 'application/x-www-form-urlencoded') {
    const text = new TextDecoder().decode(bytes)
    for (const [name, value] of new (webUrl().URLSearchParams)(text)) form.append(name, value)
    return form
  }
  if (type === 'multipart/form-data') {
    const boundary = getMultipartBoundary(contentType)
    if (!boundary) throw new TypeError('Failed to parse body as FormData: the multipart/form-data content type has no boundary')
    const { File } = blobModule()
    try {
      for (const part of parseMultipart(bytes, { boundary, maxFileSize: Infinity })) {
        const name = part.name
        if (name === undefined) continue
        if (part.filename !== undefined) form.append(name, new File([part.bytes], part.filename, { type: part.mediaType ?? '' }))
        else form.append(name, part.text)
      }
    } catch (error) {
      throw new TypeError(`Failed to parse body as FormData: ${error?.message ?? String(error)}`)
    }
    return form
  }
  throw new TypeError(`Failed to parse body as FormData: the content type is ${type === '' ? 'missing' : type}, not multipart/form-data or application/x-www-form-urlencoded`)
}
