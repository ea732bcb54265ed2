// WHATWG Headers: case-insensitive names, combined values, ordered iteration, getSetCookie.
import { brand } from './lazy.js'

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const kList = Symbol('headers')
const kGuard = Symbol('guard')

function normalizeName(name) {
  const value = String(name)
  if (!TOKEN.test(value)) throw new TypeError(`Headers: invalid header name "${value}"`)
  return value.toLowerCase()
}

function normalizeValue(value) {
  const str = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '')
  if (/[\0\n\r]/.test(str)) throw new TypeError('Headers: invalid header value')
  return str
}

/**
 * Headers of a request the gateway parsed (lower-case token names, values without CR/LF or NUL,
 * trimmed by its HTTP parser): taken as they are, without validating each again. `pairs` must be
 * a fresh array of fresh [name, value] string arrays that nothing else holds.
 */
export function headersFromHost(pairs) {
  const headers = new Headers()
  headers[kList] = pairs
  return headers
}

/**
 * Adds the platform's own `content-type` (a body's type: a constant the platform chose) unless the
 * headers have one: the same as `has` and `set` without validating a name and value known good.
 */
export function defaultContentType(headers, value) {
  const list = headers[kList]
  // Most responses have no header of their own: a list of one, not an empty list grown by a push (17 slots).
  if (list.length === 0) {
    headers[kList] = [['content-type', value]]
    return
  }
  for (let i = 0; i < list.length; i++) if (list[i][0] === 'content-type') return
  list.push(['content-type', value])
}

export class Headers {
  constructor(init) {
    /** @type {Array<[string, string]>} lower-cased name, value; set-cookie kept separate */
    this[kList] = []
    this[kGuard] = 'none'
    if (init == null) return
    if (init instanceof Headers) {
      for (const [name, value] of init[kList]) this[kList].push([name, value])
    } else if (typeof init === 'object' && typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        const entry = Array.from(pair)
        if (entry.length !== 2) throw new TypeError('Headers: each header pair must have a name and a value')
        this.append(entry[0], entry[1])
      }
    } else if (typeof init === 'object') {
      for (const name of Object.keys(init)) this.append(name, init[name])
    } else {
      throw new TypeError('Headers: init must be an object, an iterable of pairs, or Headers')
    }
  }

  #check() {
    if (this[kGuard] === 'immutable') throw new TypeError('Headers: these headers are immutable')
  }

  append(name, value) {
    this.#check()
    this[kList].push([normalizeName(name), normalizeValue(value)])
  }

  delete(name) {
    this.#check()
    const key = normalizeName(name)
    this[kList] = this[kList].filter(([n]) => n !== key)
  }

  get(name) {
    const key = normalizeName(name)
    const values = []
    for (const [n, v] of this[kList]) if (n === key) values.push(v)
    return values.length === 0 ? null : values.join(', ')
  }

  getSetCookie() {
    return this[kList].filter(([n]) => n === 'set-cookie').map(([, v]) => v)
  }

  has(name) {
    const key = normalizeName(name)
    return this[kList].some(([n]) => n === key)
  }

  set(name, value) {
    this.#check()
    const key = normalizeName(name)
    const normalized = normalizeValue(value)
    const index = this[kList].findIndex(([n]) => n === key)
    if (index === -1) { this[kList].push([key, normalized]); return }
    this[kList][index] = [key, normalized]
    this[kList] = this[kList].filter(([n], i) => i <= index || n !== key)
  }

  forEach(callback, thisArg) {
    for (const [name, value] of this) callback.call(thisArg, value, name, this)
  }

  *entries() {
    const names = [...new Set(this[kList].map(([n]) => n))].sort()
    for (const name of names) {
      if (name === 'set-cookie') for (const value of this.getSetCookie()) yield [name, value]
      else yield [name, this.get(name)]
    }
  }

  *keys() { for (const [name] of this.entries()) yield name }
  *values() { for (const [, value] of this.entries()) yield value }
  [Symbol.iterator]() { return this.entries() }
  get [Symbol.toStringTag]() { return 'Headers' }
}

brand(Headers)

/** Raw pairs for crossing to the host, duplicates kept (set-cookie). */
export function headerPairs(headers) {
  // Not `([n, v]) => [n, v]`: destructuring goes through an array iterator, objects a pair in
  // code that is not optimized yet, as the platform's is in most tenants' isolates.
  return headers[kList].map((pair) => [pair[0], pair[1]])
}

export function freezeHeaders(headers) {
  headers[kGuard] = 'immutable'
  return headers
}
