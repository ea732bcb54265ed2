// UTF-8 TextEncoder/TextDecoder and base64 atob/btoa for the isolate (WHATWG Encoding, utf-8 only,
// as in Cloudflare Workers). Invalid sequences decode to U+FFFD, like the spec's "replacement" mode.
import { brand, domException } from './lazy.js'

/**
 * Encodes `str` as UTF-8 into `out` from `n`, stopping before a character that does not fit;
 * lone surrogates become U+FFFD. Answers [code units read, bytes written]. No allocation per
 * character: whatwg-url encodes every query and form body with it.
 */
function encodeInto(str, out, n) {
  const limit = out.length
  let i = 0
  for (; i < str.length; i++) {
    let c = str.charCodeAt(i)
    if (c < 0x80) {
      if (n >= limit) break
      out[n++] = c
      continue
    }
    let units = 1
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < str.length ? str.charCodeAt(i + 1) : 0
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        units = 2
      } else {
        c = 0xfffd
      }
    }
    if (c < 0x800) {
      if (n + 2 > limit) break
      out[n++] = 0xc0 | (c >> 6); out[n++] = 0x80 | (c & 63)
    } else if (c < 0x10000) {
      if (n + 3 > limit) break
      out[n++] = 0xe0 | (c >> 12); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63)
    } else {
      if (n + 4 > limit) break
      out[n++] = 0xf0 | (c >> 18); out[n++] = 0x80 | ((c >> 12) & 63); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63)
    }
    i += units - 1
  }
  return [i, n]
}

function isAscii(str) {
  for (let i = 0; i < str.length; i++) if (str.charCodeAt(i) >= 0x80) return false
  return true
}

export class TextEncoder {
  get encoding() { return 'utf-8' }

  encode(input = '') {
    const str = String(input)
    if (isAscii(str)) {
      const out = new Uint8Array(str.length)
      for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i)
      return out
    }
    const out = new Uint8Array(str.length * 3)
    return out.slice(0, encodeInto(str, out, 0)[1])
  }

  /** Writes whole characters only; `read` counts UTF-16 code units consumed. */
  encodeInto(input, dest) {
    if (!(dest instanceof Uint8Array)) throw new TypeError("Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'.")
    const [read, written] = encodeInto(String(input), dest, 0)
    return { read, written }
  }

  get [Symbol.toStringTag]() { return 'TextEncoder' }
}

const LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8'])
const EMPTY = new Uint8Array(0)

/** The length of `bytes` without a trailing incomplete UTF-8 sequence (held back while streaming). */
function completeLength(bytes) {
  for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 3; i--) {
    const b = bytes[i]
    if ((b & 0xc0) === 0x80) continue
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
    return i + need > bytes.length ? i : bytes.length
  }
  return bytes.length
}

export class TextDecoder {
  #fatal
  #ignoreBOM
  #pending = EMPTY
  #bomChecked = false

  constructor(label = 'utf-8', options = {}) {
    const name = String(label).trim().toLowerCase()
    if (!LABELS.has(name)) throw new RangeError(`TextDecoder: encoding "${label}" is not supported (utf-8 only)`)
    this.#fatal = Boolean(options?.fatal)
    this.#ignoreBOM = Boolean(options?.ignoreBOM)
  }

  get encoding() { return 'utf-8' }
  get fatal() { return this.#fatal }
  get ignoreBOM() { return this.#ignoreBOM }
  get [Symbol.toStringTag]() { return 'TextDecoder' }

  decode(input = undefined, options = undefined) {
    const stream = Boolean(options?.stream)
    let bytes = input === undefined ? EMPTY : toBytes(input)
    if (this.#pending.length > 0) {
      const joined = new Uint8Array(this.#pending.length + bytes.length)
      joined.set(this.#pending)
      joined.set(bytes, this.#pending.length)
      bytes = joined
    }
    const end = stream ? completeLength(bytes) : bytes.length
    this.#pending = end < bytes.length ? bytes.slice(end) : EMPTY
    let start = 0
    if (!this.#bomChecked && (end >= 3 || !stream)) {
      this.#bomChecked = true
      if (!this.#ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3
    }
    try {
      return this.#decode(bytes, start, end)
    } finally {
      if (!stream) {
        this.#pending = EMPTY
        this.#bomChecked = false
      }
    }
  }

  #decode(bytes, start, end) {
    let ascii = true
    for (let k = start; k < end; k++) if (bytes[k] >= 0x80) { ascii = false; break }
    if (ascii) {
      let out = ''
      for (let k = start; k < end; k += 8192) out += String.fromCharCode.apply(null, bytes.subarray(k, Math.min(end, k + 8192)))
      return out
    }
    let i = start
    let out = ''
    let chunk = []
    const bad = () => {
      if (this.#fatal) {
        this.#pending = EMPTY
        this.#bomChecked = false
        throw new TypeError('The encoded data was not valid for encoding utf-8')
      }
      chunk.push(0xfffd)
    }
    while (i < end) {
      const b = bytes[i++]
      if (b < 0x80) chunk.push(b)
      else {
        const need = b >= 0xf0 && b <= 0xf4 ? 3 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xc2 && b < 0xe0 ? 1 : -1
        if (need < 0) bad()
        else {
          let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07)
          const lower = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80
          const upper = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf
          let k = 0
          for (; k < need; k++) {
            const c = i < end ? bytes[i] : undefined
            if (c === undefined || c < (k === 0 ? lower : 0x80) || c > (k === 0 ? upper : 0xbf)) break
            cp = (cp << 6) | (c & 63)
            i++
          }
          if (k < need) bad()
          else if (cp > 0xffff) { cp -= 0x10000; chunk.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff)) }
          else chunk.push(cp)
        }
      }
      if (chunk.length > 8192) { out += String.fromCharCode.apply(null, chunk); chunk = [] }
    }
    return out + String.fromCharCode.apply(null, chunk)
  }
}

export function toBytes(input) {
  if (input instanceof Uint8Array) return input
  if (input instanceof ArrayBuffer) return new Uint8Array(input)
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  throw new TypeError('expected an ArrayBuffer or ArrayBufferView')
}

brand(TextEncoder, TextDecoder)

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function invalidCharacter(message) {
  const DOMException = domException()
  return new DOMException(message, 'InvalidCharacterError')
}

export function btoa(data) {
  const str = String(data)
  let out = ''
  for (let i = 0; i < str.length; i += 3) {
    const a = str.charCodeAt(i), b = str.charCodeAt(i + 1), c = str.charCodeAt(i + 2)
    if (a > 255 || b > 255 || c > 255) throw invalidCharacter('btoa: the string contains characters outside of the Latin1 range')
    const n = (a << 16) | ((b || 0) << 8) | (c || 0)
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] +
      (i + 1 < str.length ? ALPHABET[(n >> 6) & 63] : '=') + (i + 2 < str.length ? ALPHABET[n & 63] : '=')
  }
  return out
}

export function atob(data) {
  let str = String(data).replace(/[\t\n\f\r ]/g, '')
  if (str.length % 4 === 0) str = str.replace(/==?$/, '')
  if (str.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(str)) throw invalidCharacter('atob: the string is not correctly encoded')
  let out = ''
  let bits = 0, acc = 0
  for (let i = 0; i < str.length; i++) {
    acc = (acc << 6) | ALPHABET.indexOf(str[i])
    bits += 6
    if (bits >= 8) { bits -= 8; out += String.fromCharCode((acc >> bits) & 255) }
  }
  return out
}

/** The UTF-8 length of a string, without encoding it. */
export function byteLength(str) {
  let n = 0
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length && (str.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++ }
    else n += 3
  }
  return n
}
