// URL and URLSearchParams (WHATWG URL Standard). The parser and the form encoding
// (application/x-www-form-urlencoded) are whatwg-url's own (lib/url-state-machine.js and
// lib/urlencoded.js, the standard's reference implementation), behind a fast path for common URLs
// (url-record.js); these classes are the WebIDL layer over them, written after whatwg-url's
// URL-impl.js and URLSearchParams-impl.js. whatwg-url's generated wrappers (URL.js,
// URLSearchParams.js, webidl-conversions) did the same job with ~27 KB of generic code that every
// isolate held as source, compiled code and objects: ~100 KiB per warm tenant that parses a URL
// (bench/runner-bench.ts). A chunk, loaded on first use (url.js); the state machine is another
// (url-parser.js), loaded only when the fast path declines.
import urlencoded from 'whatwg-url/lib/urlencoded.js'
import { loadChunk } from './chunks.js'
import { brand } from './lazy.js'
import { cannotHaveAUsernamePasswordPort, fastParse, hasAnOpaquePath, serializeHost, serializePath, serializeURL, serializeURLOrigin } from './url-record.js'

/** whatwg-url's state machine (url-parser.js). */
const parser = () => loadChunk('url-parser')

/** WebIDL USVString: ToString (a Symbol throws TypeError), lone surrogates become U+FFFD. */
function usv(value) {
  return `${value}`.toWellFormed()
}

/** WebIDL's check of the argument count; `context` is e.g. "Failed to execute 'get' on 'URLSearchParams'". */
function required(given, count, context) {
  if (given < count) throw new TypeError(`${context}: ${count} argument${count === 1 ? '' : 's'} required, but only ${given} present.`)
}

/**
 * The basic URL parser: the fast path when it takes the input, else whatwg-url's state machine.
 * Its options are read by property lookups: no prototype a tenant could pollute.
 */
function parse(input, baseURL = null, url = undefined, stateOverride = undefined) {
  if (baseURL === null && stateOverride === undefined) {
    const record = fastParse(input)
    if (record !== null) return record
  }
  return parser().basicURLParse(input, { __proto__: null, baseURL, url, stateOverride })
}

/** The URL record for `input` against `base` (a string or undefined), or null when either fails to parse. */
function parseWithBase(input, base) {
  let parsedBase = null
  if (base !== undefined) {
    parsedBase = parse(base)
    if (parsedBase === null) return null
  }
  return parse(input, parsedBase)
}

/** Lets URL.parse hand the constructor a record it parsed already; tenant code never sees it. */
const kRecord = Symbol('record')

/** WebIDL makes attributes and operations enumerable, and adds the class string. */
function webIdl(Class, tag) {
  for (const key of Reflect.ownKeys(Class.prototype)) {
    if (key !== 'constructor') Object.defineProperty(Class.prototype, key, { enumerable: true })
  }
  Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: tag, configurable: true })
}

// Reached across the two classes, never from tenant code.
let recordOf
let paramsList
let replaceList
let linkParams

export class URL {
  /** whatwg-url's URL record. */
  #url
  /** The URLSearchParams for this URL, made on first use. */
  #query = null

  static {
    recordOf = (url) => url.#url
  }

  constructor(url, base = undefined) {
    if (url === kRecord) {
      this.#url = base
      return
    }
    required(arguments.length, 1, "Failed to construct 'URL'")
    const input = usv(url)
    let parsedBase = null
    if (base !== undefined) {
      const baseInput = usv(base)
      parsedBase = parse(baseInput)
      if (parsedBase === null) throw new TypeError(`Invalid base URL: ${baseInput}`)
    }
    const parsed = parse(input, parsedBase)
    if (parsed === null) throw new TypeError(`Invalid URL: ${input}`)
    this.#url = parsed
  }

  static parse(url, base = undefined) {
    required(arguments.length, 1, "Failed to execute 'parse' on 'URL'")
    const record = parseWithBase(usv(url), base === undefined ? undefined : usv(base))
    return record === null ? null : new URL(kRecord, record)
  }

  static canParse(url, base = undefined) {
    required(arguments.length, 1, "Failed to execute 'canParse' on 'URL'")
    return parseWithBase(usv(url), base === undefined ? undefined : usv(base)) !== null
  }

  /** The query changed through this URL: its URLSearchParams, if made yet, takes `list`. */
  #replaceQuery(list) {
    if (this.#query !== null) replaceList(this.#query, list)
  }

  get href() {
    return serializeURL(this.#url, parser)
  }

  set href(value) {
    const input = usv(value)
    const parsed = parse(input)
    if (parsed === null) throw new TypeError(`Invalid URL: ${input}`)
    this.#url = parsed
    this.#replaceQuery(parsed.query === null ? [] : urlencoded.parseUrlencodedString(parsed.query))
  }

  get origin() {
    return serializeURLOrigin(this.#url, parser)
  }

  get protocol() {
    return `${this.#url.scheme}:`
  }

  set protocol(value) {
    parse(`${usv(value)}:`, null, this.#url, 'scheme start')
  }

  get username() {
    return this.#url.username
  }

  set username(value) {
    const input = usv(value)
    if (!cannotHaveAUsernamePasswordPort(this.#url)) parser().setTheUsername(this.#url, input)
  }

  get password() {
    return this.#url.password
  }

  set password(value) {
    const input = usv(value)
    if (!cannotHaveAUsernamePasswordPort(this.#url)) parser().setThePassword(this.#url, input)
  }

  get host() {
    const url = this.#url
    if (url.host === null) return ''
    if (url.port === null) return serializeHost(url.host, parser)
    return `${serializeHost(url.host, parser)}:${url.port}`
  }

  set host(value) {
    const input = usv(value)
    if (!hasAnOpaquePath(this.#url)) parse(input, null, this.#url, 'host')
  }

  get hostname() {
    return this.#url.host === null ? '' : serializeHost(this.#url.host, parser)
  }

  set hostname(value) {
    const input = usv(value)
    if (!hasAnOpaquePath(this.#url)) parse(input, null, this.#url, 'hostname')
  }

  get port() {
    return this.#url.port === null ? '' : String(this.#url.port)
  }

  set port(value) {
    const input = usv(value)
    if (cannotHaveAUsernamePasswordPort(this.#url)) return
    if (input === '') this.#url.port = null
    else parse(input, null, this.#url, 'port')
  }

  get pathname() {
    return serializePath(this.#url)
  }

  set pathname(value) {
    const input = usv(value)
    if (hasAnOpaquePath(this.#url)) return
    this.#url.path = []
    parse(input, null, this.#url, 'path start')
  }

  get search() {
    const { query } = this.#url
    return query === null || query === '' ? '' : `?${query}`
  }

  set search(value) {
    const url = this.#url
    const v = usv(value)
    if (v === '') {
      url.query = null
      this.#replaceQuery([])
      return
    }
    const input = v[0] === '?' ? v.substring(1) : v
    url.query = ''
    parse(input, null, url, 'query')
    this.#replaceQuery(urlencoded.parseUrlencodedString(input))
  }

  /**
   * Made on first use from the URL's query. Every change to the query through this URL replaces
   * the list from then on, so a late start sees what an early one would have.
   */
  get searchParams() {
    return (this.#query ??= linkParams(this, this.#url.query ?? ''))
  }

  get hash() {
    const { fragment } = this.#url
    return fragment === null || fragment === '' ? '' : `#${fragment}`
  }

  set hash(value) {
    const v = usv(value)
    if (v === '') {
      this.#url.fragment = null
      return
    }
    const input = v[0] === '#' ? v.substring(1) : v
    this.#url.fragment = ''
    parse(input, null, this.#url, 'fragment')
  }

  toJSON() {
    return this.href
  }

  toString() {
    return this.href
  }
}

/** A `[name, value]` list from a sequence of pairs, a record, or a query string (WebIDL union). */
function listFromInit(init) {
  if (init !== null && (typeof init === 'object' || typeof init === 'function')) {
    const iterator = init[Symbol.iterator]
    if (iterator !== undefined && iterator !== null) {
      if (typeof iterator !== 'function') throw new TypeError("Failed to construct 'URLSearchParams': The provided value is not of type 'sequence'.")
      const list = []
      for (const pair of { [Symbol.iterator]: () => iterator.call(init) }) {
        if (pair === null || (typeof pair !== 'object' && typeof pair !== 'function') || typeof pair[Symbol.iterator] !== 'function') {
          throw new TypeError("Failed to construct 'URLSearchParams': The provided value cannot be converted to a sequence.")
        }
        const items = Array.from(pair, usv)
        if (items.length !== 2) {
          throw new TypeError("Failed to construct 'URLSearchParams': parameter 1 sequence's element does not contain exactly two elements.")
        }
        list.push(items)
      }
      return list
    }
    const record = new Map()
    for (const key of Reflect.ownKeys(init)) {
      const descriptor = Reflect.getOwnPropertyDescriptor(init, key)
      if (descriptor !== undefined && descriptor.enumerable) record.set(usv(key), usv(init[key]))
    }
    return [...record]
  }
  const query = usv(init)
  return urlencoded.parseUrlencodedString(query[0] === '?' ? query.slice(1) : query)
}

export class URLSearchParams {
  #list
  /** The URL whose query this is, or null. */
  #url = null

  static {
    paramsList = (params) => params.#list
    replaceList = (params, list) => { params.#list = list }
    linkParams = (url, query) => {
      const params = new URLSearchParams()
      params.#list = urlencoded.parseUrlencodedString(query)
      params.#url = url
      return params
    }
  }

  constructor(init = '') {
    this.#list = listFromInit(init)
  }

  #update() {
    if (this.#url === null) return
    const serialized = urlencoded.serializeUrlencoded(this.#list)
    recordOf(this.#url).query = serialized === '' ? null : serialized
  }

  get size() {
    return this.#list.length
  }

  append(name, value) {
    required(arguments.length, 2, "Failed to execute 'append' on 'URLSearchParams'")
    this.#list.push([usv(name), usv(value)])
    this.#update()
  }

  delete(name, value = undefined) {
    required(arguments.length, 1, "Failed to execute 'delete' on 'URLSearchParams'")
    const key = usv(name)
    const only = value === undefined ? undefined : usv(value)
    this.#list = this.#list.filter(([n, v]) => n !== key || (only !== undefined && v !== only))
    this.#update()
  }

  get(name) {
    required(arguments.length, 1, "Failed to execute 'get' on 'URLSearchParams'")
    const key = usv(name)
    for (const [n, v] of this.#list) if (n === key) return v
    return null
  }

  getAll(name) {
    required(arguments.length, 1, "Failed to execute 'getAll' on 'URLSearchParams'")
    const key = usv(name)
    return this.#list.filter(([n]) => n === key).map(([, v]) => v)
  }

  has(name, value = undefined) {
    required(arguments.length, 1, "Failed to execute 'has' on 'URLSearchParams'")
    const key = usv(name)
    const only = value === undefined ? undefined : usv(value)
    return this.#list.some(([n, v]) => n === key && (only === undefined || v === only))
  }

  set(name, value) {
    required(arguments.length, 2, "Failed to execute 'set' on 'URLSearchParams'")
    const key = usv(name)
    const v = usv(value)
    const first = this.#list.findIndex(([n]) => n === key)
    if (first === -1) this.#list.push([key, v])
    else this.#list = this.#list.filter(([n], i) => i <= first || n !== key).map((pair, i) => (i === first ? [key, v] : pair))
    this.#update()
  }

  /** Stable, by code units of the names. */
  sort() {
    this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    this.#update()
  }

  forEach(callback, thisArg = undefined) {
    required(arguments.length, 1, "Failed to execute 'forEach' on 'URLSearchParams'")
    if (typeof callback !== 'function') throw new TypeError("Failed to execute 'forEach' on 'URLSearchParams': The callback provided as parameter 1 is not a function.")
    // The live list: entries added or removed by the callback are seen, as WebIDL iterates it.
    for (let i = 0; i < this.#list.length; i++) {
      const [name, value] = this.#list[i]
      callback.call(thisArg, value, name, this)
    }
  }

  keys() {
    return new ParamsIterator(this, 'key')
  }

  values() {
    return new ParamsIterator(this, 'value')
  }

  entries() {
    return new ParamsIterator(this, 'key+value')
  }

  toString() {
    return urlencoded.serializeUrlencoded(this.#list)
  }
}

Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, { value: URLSearchParams.prototype.entries, writable: true, configurable: true })

/** WebIDL's pair iterator: walks the live list by index. */
class ParamsIterator {
  #params
  #kind
  #index = 0

  constructor(params, kind) {
    this.#params = params
    this.#kind = kind
  }

  next() {
    const list = paramsList(this.#params)
    if (this.#index >= list.length) return { value: undefined, done: true }
    const [name, value] = list[this.#index++]
    return { value: this.#kind === 'key' ? name : this.#kind === 'value' ? value : [name, value], done: false }
  }
}

const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()))
Object.setPrototypeOf(ParamsIterator.prototype, IteratorPrototype)
delete ParamsIterator.prototype.constructor
webIdl(ParamsIterator, 'URLSearchParams Iterator')
webIdl(URL, 'URL')
webIdl(URLSearchParams, 'URLSearchParams')
for (const name of ['parse', 'canParse']) Object.defineProperty(URL, name, { enumerable: true })
brand(URL, URLSearchParams)
