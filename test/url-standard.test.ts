// The isolate's URL and URLSearchParams (runner/platform/url-standard.js) are a WebIDL layer of our
// own over whatwg-url's parser and form-encoding algorithms. Each case below runs twice: inside an
// isolate, and on the host against whatwg-url's own generated classes (the reference). Both must
// give the same answer, error names included.
import t from 'tap'
import * as whatwg from 'whatwg-url'
import { IsolatePool, type RunTask } from '../runner/index.js'
import { LIMITS, program } from './helpers/programs.js'

const pool = new IsolatePool({ threads: 1 })
t.teardown(() => pool.close())

/** Shared by both sides: what a call throws, as "Name: message" (messages only where they are ours to match). */
const PRELUDE = `
  const err = (fn, message) => { try { const v = fn(); return ['ok', v === undefined ? null : v] } catch (e) { return message ? e.name + ': ' + e.message : e.name } }
  const list = (params) => [...params]
`

const CASES: Record<string, string> = {
  parsing: `
    return [
      new URL('HTTPS://User:Pw@Example.COM:443/a/./b/../c?q=a b&q=2#Frag ment').href,
      new URL('../c?x=1#h', 'http://a.test/b/d').href,
      new URL('//other.test/p', 'https://a.test/').href,
      new URL('?only', 'https://a.test/path?old#h').href,
      new URL('file:///C:/x/../y').href,
      new URL('http://[::1]:8080/').host,
      new URL('http://0x7f.1/').hostname,
      new URL('http://Bücher.example/ü?ü#ü').href,
      new URL('data:text/plain,hi there').pathname,
      new URL('blob:https://a.test/uuid').origin,
      new URL('mailto:someone@example.com').origin,
      new URL('http://a.test:80/').port,
      new URL('https://a.test:8443/').port,
      new URL('\\u0000http://a.test/\\ud800').href,
      err(() => new URL('not a url'), true),
      err(() => new URL('/relative'), true),
      err(() => new URL('x', 'not a base'), true),
      err(() => new URL('http://a b/'), true),
      err(() => new URL(), true),
      err(() => new URL(Symbol('s'))),
      String(new URL('http://a.test/x')),
      JSON.stringify({ u: new URL('http://a.test/j?k') }),
      URL.canParse('http://x'), URL.canParse('x'), URL.canParse('x', 'http://b.test/'), URL.canParse('x', 'bad base'),
      URL.parse('nope'), URL.parse('/p', 'https://a.test/q').href, URL.parse('x', 'bad base'),
      err(() => URL.canParse(), true),
    ]`,
  // The fast path (url-record.js) and its near misses: each must read exactly as the state machine
  // parses it (or fails it), whichever of the two took it.
  fastPath: `
    const inputs = [
      'http://bench.test/items/42?q=isogate', 'https://api.example.com/v1/users?id=1&x=y#top', 'http://localhost:3000/',
      'https://a.test', 'https://a.test?x', 'https://a.test#f', 'ws://a.test:80/x', 'wss://a.test:443', 'wss://a.test:80',
      'http://a.test:0080/', 'http://a.test:65535/', 'http://a.test:65536/', 'http://a.test:99999/', 'http://a.test:/',
      'http://a-b.c-d.test./p', 'http://-.test/', 'http://a--b.test/', 'http://a.test/%7e/%2e/x', 'http://a.test/./x',
      'http://a.test/a/../b', 'http://a.test/a/%2E%2e/b', 'http://a.test/a/.%2e', 'http://a.test/..', 'http://a.test/a/.',
      'http://a.test/a/.b/..c/...', 'http://a.test/p?', 'http://a.test/p#', 'http://a.test/p?#', 'http://a.test/p?q#h#i',
      'http://a.test/p?a=[1]&b={c}|d', "http://a.test/p?it's", "http://a.test/it's#it's", 'http://a.test/p?a=%20b&c=d+e',
      'http://1.2.3.4/', 'http://a.1/', 'http://a.0x1f/', 'http://a.0x/', 'http://a.09/', 'http://a.1a/', 'http://a.1./',
      'http://a1.test/', 'http://xn--nxasmq6b.test/', 'http://a.xn--/', 'http://A.test/', 'HTTP://a.test/', 'http://a..b/',
      'http://.a/', 'http://a./', 'http://a.test/ x', 'http://a.test/\\\\x', 'http:/a.test', 'http:a.test', 'http:///a.test',
      'http://user@a.test/', 'http://a.test/@x', 'http://a.test/%', 'http://a.test/%zz?%zz#%zz', 'ftp://a.test/',
      'file:///x', 'http://a.test/p?q=\u00e9', 'http://a.test/\t', ' http://a.test/ ', 'http://a.test/a//b', 'http://a.test//',
      'http://a.test/^', 'http://a.test/p?^', 'http://a.test/{}', 'http://a.test/p#\u0060', 'https://a.test:443/x?y#z',
      'http://127.0.0.1:8080/x?y#z', 'https://10.0.0.1:443/p', 'ws://192.168.1.1:80/', 'http://255.255.255.255/', 'http://0.0.0.0:0/',
      'http://256.1.1.1/', 'http://1.2.3.4./', 'http://01.2.3.4/', 'http://1.2.3.04/', 'http://1.2.3/', 'http://1.2.3.4.5/',
      'http://0x7f.0.0.1/', 'http://1.2.3.256/', 'http://a.1.2.3.4/', 'http://199.250.209.100/x/../y', 'http://8.8.8.8:65536/',
    ]
    return inputs.map((input) => {
      // new URL, not URL.parse: whatwg-url 14.2's URL.parse hands back an object whose toString is Object's.
      let u
      try { u = new URL(input) } catch (e) { return [input, e.name] }
      return [input, u.href, u.origin, u.protocol, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, [...u.searchParams], String(u)]
    })`,
  // Generated near misses of the fast path, from pieces each of which changes how a URL parses.
  fastPathFuzz: `
    let seed = 7
    const next = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
    const pick = (pieces) => pieces[next(pieces.length)]
    const schemes = ['http', 'https', 'ws', 'wss', 'HTTP', 'ftp', 'file', 'blob:http']
    const labels = ['a', 'b1', '0x', '0x1f', '1', '09', '-', 'a-', 'xn--a', 'A', '', 'z9', '0', '255', '256', '192', '010']
    const ports = ['', ':', ':0', ':80', ':443', ':08', ':65535', ':65536', ':1x']
    const segments = ['a', '.', '..', '%2e', '.%2E', '%', '%41', '@', "'", '^', '{', ' ', '\\\\', '|', '', '\u00e9', ';=', '~']
    const tails = ['', '?', '?a=b', "?'", '?a b', '?^', '#', '#x', '#a#b', '#\u0060', '?q#h']
    const out = []
    for (let i = 0; i < 1500; i++) {
      const host = Array.from({ length: 1 + next(4) }, () => pick(labels)).join('.')
      const path = next(4) === 0 ? '' : Array.from({ length: 1 + next(3) }, () => '/' + pick(segments)).join('')
      const input = pick(schemes) + '://' + host + pick(ports) + path + pick(tails)
      let u
      try { u = new URL(input) } catch (e) { out.push([input, e.name]); continue }
      out.push([input, u.href, u.origin, u.host, u.pathname, u.search, u.hash])
    }
    return out`,
  setters: `
    const u = new URL('https://user:pw@a.test:8080/p/q?x=1#h')
    const seen = []
    const step = (name, value) => { u[name] = value; seen.push([name, value, u.href]) }
    step('protocol', 'http'); step('protocol', 'mailto'); step('protocol', 'wss:')
    step('username', 'ü s'); step('password', ''); step('host', 'b.test:99'); step('hostname', 'c.test')
    step('port', 'abc'); step('port', '443'); step('port', ''); step('port', '65536')
    step('pathname', 'a b/ü'); step('search', '?q=1 2&r'); step('search', ''); step('search', 'nq')
    step('hash', 'frag ment'); step('hash', '')
    step('href', 'http://d.test/new?z=9')
    const opaque = new URL('mailto:x@y.test')
    opaque.host = 'h.test'; opaque.pathname = 'p'; opaque.username = 'u'; opaque.port = '1'
    return { seen, hrefError: err(() => { u.href = 'bad' }, true), after: u.href, opaque: opaque.href }`,
  linkedParams: `
    const u = new URL('https://a.test/?a=1&b=2&a=3')
    const p = u.searchParams
    const same = p === u.searchParams
    p.append('c', 'x y')
    const h1 = u.href
    p.delete('a')
    const h2 = u.href
    u.search = '?z=1&z=2'
    const afterSearch = list(p)
    u.href = 'https://a.test/?n=%F0%9F%98%80+x'
    const afterHref = list(p)
    p.delete('n')
    const emptied = [u.href, u.search]
    const late = new URL('https://a.test/?k=v')
    late.search = '?late=1'
    return { same, h1, h2, afterSearch, afterHref, emptied, late: list(late.searchParams) }`,
  paramsInit: `
    class Custom { *[Symbol.iterator]() { yield ['i', '1']; yield new Set(['j', '2']) } }
    return [
      list(new URLSearchParams('?a=1&&b=%zz&c=%C3%A9&d=%FF&e&=f&g=h=i&+j+=+k+')),
      list(new URLSearchParams('??a=1')),
      list(new URLSearchParams([['x', 1], ['y', null]])),
      list(new URLSearchParams({ b: 2, a: undefined })),
      err(() => new URLSearchParams({ b: 2, [Symbol.iterator]: undefined })),
      list(new URLSearchParams(new URLSearchParams('r=1&r=2'))),
      list(new URLSearchParams(new Map([['m', 'v']]))),
      list(new URLSearchParams(new Custom())),
      list(new URLSearchParams(null)),
      list(new URLSearchParams(undefined)),
      list(new URLSearchParams(42)),
      list(new URLSearchParams({ '\\ud800': '\\udc00' })),
      err(() => new URLSearchParams([['only']])),
      err(() => new URLSearchParams([1])),
      err(() => new URLSearchParams([{ 0: 'a', 1: 'b', length: 2 }])),
      err(() => new URLSearchParams({ [Symbol('s')]: 'x' })),
      err(() => new URLSearchParams({ [Symbol.iterator]: 5 })),
    ]`,
  paramsMethods: `
    const p = new URLSearchParams('b=2&a=1&b=3&c=4&a=0')
    const out = {}
    out.get = [p.get('b'), p.get('zz'), p.getAll('a'), p.has('a'), p.has('a', '1'), p.has('a', '9'), p.size]
    p.set('b', 'new')
    out.set = p.toString()
    p.delete('a', '0')
    out.deleteValue = p.toString()
    p.append('é ~!\\'()*-._', 'v&=+%')
    out.append = p.toString()
    p.sort()
    out.sorted = list(p)
    const stable = new URLSearchParams('z=1&a=2&z=0&\\ud83d\\ude00=e&\\uffff=f&a=1')
    stable.sort()
    out.stable = list(stable)
    out.keys = [...p.keys()]
    out.values = [...p.values()]
    out.entries = [...p.entries()]
    const live = new URLSearchParams('a=1&b=2')
    const it = live[Symbol.iterator]()
    const first = it.next().value
    live.append('c', '3')
    out.live = [first, it.next().value, it.next().value, it.next()]
    const visited = []
    live.forEach(function (value, key, target) { visited.push([key, value, this.tag, target === live]); if (key === 'a') live.delete('b') }, { tag: 't' })
    out.forEach = visited
    out.forEachError = err(() => live.forEach(5))
    out.arity = [err(() => live.append('x'), true), err(() => live.get(), true)]
    out.tags = [Object.prototype.toString.call(new URL('http://a/')), Object.prototype.toString.call(p), Object.prototype.toString.call(p.keys())]
    out.iteratorProto = Object.getPrototypeOf(Object.getPrototypeOf(p.keys())) === Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()))
    out.enumerable = [Object.keys(URL.prototype).sort(), Object.keys(URLSearchParams.prototype).sort(), Object.keys(URL).sort()]
    out.iteratorIsEntries = URLSearchParams.prototype[Symbol.iterator] === URLSearchParams.prototype.entries
    out.brand = [err(() => URL.prototype.href), err(() => URLSearchParams.prototype.get.call({}, 'a'))]
    return out`,
}

/** The reference: whatwg-url's own classes, on the host. */
function reference(body: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- test-only: the same source runs in the isolate
  const fn = new Function('URL', 'URLSearchParams', `'use strict'; ${PRELUDE}\n${body}`) as (u: unknown, p: unknown) => unknown
  return JSON.parse(JSON.stringify(fn(whatwg.URL, whatwg.URLSearchParams)))
}

function task(body: string): RunTask {
  const source = `export default { run() { ${PRELUDE}\n${body} } }`
  return { kind: 'run', program: program('url-standard', source), input: null, env: {}, limits: LIMITS }
}

for (const [name, body] of Object.entries(CASES)) {
  t.test(`URL Standard in the isolate matches whatwg-url: ${name}`, async (t) => {
    const result = await pool.run(task(body))
    t.equal(result.ok, true, `the run succeeded${result.error ? `: ${result.error.code} ${result.error.message}` : ''}`)
    t.same(result.output, reference(body))
  })
}
