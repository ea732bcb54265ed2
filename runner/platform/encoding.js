// UTF-8 TextEncoder/TextDecoder and base64 atob/btoa for the isolate (WHATWG Encoding, utf-8 only,
// as in Cloudflare Workers). Invalid sequences decode to U+FFFD, like the spec's "replacement" mode.

export class TextEncoder {
  get encoding() { return 'utf-8' }

  encode(input = '') {
    const str = String(input)
    const out = new Uint8Array(str.length * 3)
    let n = 0
    for (let i = 0; i < str.length; i++) {
      let c = str.charCodeAt(i)
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        const d = str.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++ }
        else c = 0xfffd
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd
      if (c < 0x80) out[n++] = c
      else if (c < 0x800) { out[n++] = 0xc0 | (c >> 6); out[n++] = 0x80 | (c & 63) }
      else if (c < 0x10000) { out[n++] = 0xe0 | (c >> 12); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63) }
      else { out[n++] = 0xf0 | (c >> 18); out[n++] = 0x80 | ((c >> 12) & 63); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63) }
    }
    return out.slice(0, n)
  }

  encodeInto(input, dest) {
    const bytes = this.encode(input)
    const written = Math.min(bytes.length, dest.length)
    dest.set(bytes.subarray(0, written))
    return { read: String(input).length, written }
  }
}

export class TextDecoder {
  #fatal
  #ignoreBOM
  constructor(label = 'utf-8', options = {}) {
    const name = String(label).trim().toLowerCase()
    if (name !== 'utf-8' && name !== 'utf8' && name !== 'unicode-1-1-utf-8') {
      throw new RangeError(`TextDecoder: encoding "${label}" is not supported (utf-8 only)`)
    }
    this.#fatal = Boolean(options.fatal)
    this.#ignoreBOM = Boolean(options.ignoreBOM)
  }
  get encoding() { return 'utf-8' }
  get fatal() { return this.#fatal }
  get ignoreBOM() { return this.#ignoreBOM }

  decode(input) {
    if (input === undefined) return ''
    const bytes = toBytes(input)
    let i = 0
    if (!this.#ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3
    let out = ''
    let chunk = []
    const bad = () => {
      if (this.#fatal) throw new TypeError('TextDecoder: invalid utf-8 data')
      chunk.push(0xfffd)
    }
    while (i < bytes.length) {
      const b = bytes[i++]
      if (b < 0x80) chunk.push(b)
      else {
        const need = b >= 0xf0 && b <= 0xf4 ? 3 : b >= 0xe0 ? 2 : b >= 0xc2 && b < 0xe0 ? 1 : -1
        if (need < 0) { bad() }
        else {
          let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07)
          const lower = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80
          const upper = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf
          let k = 0
          for (; k < need; k++) {
            const c = bytes[i]
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

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function invalidCharacter(message) {
  const error = new Error(message)
  error.name = 'InvalidCharacterError'
  return error
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
