import t, { type Test } from 'tap'
import { IsolatePool, type RunResult, type RunTask } from '../runner/index.js'
import { pairsFromHeaderText } from '../runner/header-text.js'
import { runArgs } from '../runner/protocol.js'
import { LIMITS, bodyText, fetchTask, program } from './helpers/programs.js'

const pool = new IsolatePool({ threads: 1 })
t.teardown(() => pool.close())

function runTask(tenantId: string, body: string): RunTask {
  return { kind: 'run', program: program(tenantId, `export default { async run(input, env, ctx) {\n${body}\n} }`), input: null, env: {}, limits: LIMITS }
}

/** Runs `body` as a `run` handler and returns its output, failing the test if the run failed. */
async function evaluate(t: Test, body: string, tenantId = 'platform'): Promise<unknown> {
  const result = await pool.run(runTask(tenantId, body))
  t.equal(result.ok, true, `the run succeeded${result.error ? `: ${result.error.code} ${result.error.message}` : ''}`)
  return result.output
}

/** Inside the isolate: what a call throws, as "Name: message" (or "Name(code)" with `withCode`). */
const THROWS = `
  const throws = (fn, withCode) => { try { fn(); return 'no error' } catch (e) { return withCode ? e.name + '(' + e.code + ')' : e.name + ': ' + e.message } }
  const rejects = async (fn) => { try { await fn(); return 'no error' } catch (e) { return e.name + ': ' + e.message } }
  const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('')
`

t.test('Headers: case-insensitive, combined values, sorted iteration, set-cookie kept apart, names and values checked', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const headers = new Headers([['X-B', '1'], ['x-a', ' padded \\t'], ['X-b', '2'], ['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']])
    headers.append('x-c', '3')
    const fromRecord = new Headers({ Accept: 'text/html', 'Content-Type': 'text/plain' })
    fromRecord.set('accept', 'application/json')
    fromRecord.delete('CONTENT-TYPE')
    return {
      entries: [...headers],
      get: headers.get('x-b'),
      cookies: headers.getSetCookie(),
      has: [headers.has('X-A'), headers.has('nope')],
      record: [...fromRecord.entries()],
      copy: [...new Headers(headers).keys()],
      badName: throws(() => headers.append('bad name', 'x')),
      badValue: throws(() => headers.set('x', 'a\\nb')),
      missing: headers.get('missing'),
    }`)
  t.same(value, {
    entries: [['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-a', 'padded'], ['x-b', '1, 2'], ['x-c', '3']],
    get: '1, 2',
    cookies: ['a=1', 'b=2'],
    has: [true, false],
    record: [['accept', 'application/json']],
    copy: ['set-cookie', 'set-cookie', 'x-a', 'x-b', 'x-c'],
    badName: 'TypeError: Headers: invalid header name "bad name"',
    badValue: 'TypeError: Headers: invalid header value',
    missing: null,
  })
})

t.test('URL and URLSearchParams follow the WHATWG URL standard', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const relative = new URL('../c?x=1#h', 'http://a.test/b/d')
    const url = new URL('HTTPS://User:Pw@Example.COM:443/a/./b/../c?q=a b&q=2')
    url.searchParams.append('r', 'é&=')
    const params = new URLSearchParams({ b: '2', a: '1 1' })
    params.sort()
    return {
      relative: relative.href,
      url: [url.href, url.origin, url.host, url.username, url.pathname, url.searchParams.getAll('q')],
      idn: new URL('http://Bücher.example/').host,
      punycode: new URL('http://xn--bcher-kva.example/').hostname,
      ipv4: new URL('http://0x7f.1/').hostname,
      params: params.toString(),
      invalid: throws(() => new URL('not a url')),
      canParse: typeof URL.canParse === 'function' ? URL.canParse('http://x') : 'absent',
    }`)
  t.same(value, {
    relative: 'http://a.test/c?x=1#h',
    url: ['https://User:Pw@example.com/a/c?q=a+b&q=2&r=%C3%A9%26%3D', 'https://example.com', 'example.com', 'User', '/a/c', ['a b', '2']],
    idn: 'xn--bcher-kva.example',
    punycode: 'xn--bcher-kva.example',
    ipv4: '127.0.0.1',
    params: 'a=1+1&b=2',
    invalid: 'TypeError: Invalid URL: not a url',
    canParse: true,
  })
})

t.test('URL hosts that need IDNA are mapped by the host exactly as UTS #46 asks, and invalid ones throw TypeError', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const host = (input) => { try { return new URL(input).host } catch (e) { return [e.constructor === TypeError, e.name, e.message] } }
    return {
      mapped: [host('https://Bücher.example/'), host('https://BÜCHER.example:8080/'), host('https://ＡＢＣ.example/'), host('https://faß.de/')],
      punycode: [host('https://xn--bcher-kva.example/'), host('https://XN--BCHER-KVA.example/')],
      // Node's url.domainToASCII accepts both (it skips the Bidi rule and cuts the host at the slash).
      bidi: host('https://١٢٣.example/'),
      slash: host('https://ü%2F.example/'),
      badPunycode: host('https://xn--iñvalid.example/'),
      joiner: host('https://a\\u200db.example/'),
      canParse: [URL.canParse('https://Bücher.example/'), URL.canParse('https://xn--a.example/')],
      ascii: host('https://Example.COM/'),
    }`)
  const invalid = (input: string): [boolean, string, string] => [true, 'TypeError', `Invalid URL: ${input}`]
  t.same(value, {
    mapped: ['xn--bcher-kva.example', 'xn--bcher-kva.example:8080', 'abc.example', 'xn--fa-hia.de'],
    punycode: ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    bidi: invalid('https://١٢٣.example/'),
    slash: invalid('https://ü%2F.example/'),
    badPunycode: invalid('https://xn--iñvalid.example/'),
    joiner: invalid('https://a\u200db.example/'),
    canParse: [true, false],
    ascii: 'example.com',
  })
})

t.test('IDNA on the host hands the script no host object: only strings cross, also with a polluted Object.prototype', async (t) => {
  const value = await evaluate(t, `
    const seen = new Set()
    // URL and its state machine are loaded first (an upper-case host is not the fast path's): the
    // platform's lazily loaded chunks do not survive a polluted 'value'.
    new URL('https://Warm.example/')
    Object.defineProperty(Object.prototype, 'ok', { get() { return false }, configurable: true })
    Object.defineProperty(Object.prototype, 'value', { get() { return 'polluted.example' }, configurable: true })
    Error.prepareStackTrace = (error, sites) => {
      for (const site of sites) {
        for (const read of ['getThis', 'getFunction']) seen.add(typeof site[read]())
      }
      return 'captured'
    }
    let stack
    try { new URL('https://xn--iñvalid.example/') } catch (e) { stack = e.stack }
    const hosts = [new URL('https://Bücher.example/').host, new URL('https://xn--bcher-kva.example/').hostname]
    delete Error.prepareStackTrace
    delete Object.prototype.ok
    delete Object.prototype.value
    return { stack, seen: [...seen].sort(), hosts, types: hosts.map((h) => typeof h) }`)
  t.same(value, { stack: 'captured', seen: ['undefined'], hosts: ['xn--bcher-kva.example', 'xn--bcher-kva.example'], types: ['string', 'string'] })
})

t.test('TextEncoder and TextDecoder round-trip UTF-8 and replace invalid sequences with U+FFFD', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const text = 'aé€𝄞'
    const bytes = new TextEncoder().encode(text)
    const decode = (array, options) => new TextDecoder('utf-8', options).decode(new Uint8Array(array))
    const into = new Uint8Array(5)
    const streaming = new TextDecoder()
    const euro = [0xe2, 0x82, 0xac]
    return {
      bytes: [...bytes],
      roundTrip: new TextDecoder().decode(bytes) === text,
      loneSurrogate: [...new TextEncoder().encode('\\ud800')],
      invalid: [decode([0xff]), decode([0xe2, 0x82]), decode([0xed, 0xa0, 0x80]), decode([0xc0, 0x80]), decode([0xf5, 0x41])].map(escape),
      fatal: throws(() => decode([0xff], { fatal: true })),
      bom: [decode([0xef, 0xbb, 0xbf, 0x41]), decode([0xef, 0xbb, 0xbf, 0x41], { ignoreBOM: true }).length],
      encodeInto: [new TextEncoder().encodeInto('a€€', into), [...into]],
      stream: streaming.decode(new Uint8Array(euro.slice(0, 2)), { stream: true }) + '|' + streaming.decode(new Uint8Array(euro.slice(2))),
      label: throws(() => new TextDecoder('latin1')),
    }`)
  t.same(value, {
    bytes: [0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9d, 0x84, 0x9e],
    roundTrip: true,
    loneSurrogate: [0xef, 0xbf, 0xbd],
    invalid: ['%uFFFD', '%uFFFD', '%uFFFD%uFFFD%uFFFD', '%uFFFD%uFFFD', '%uFFFDA'],
    fatal: 'TypeError: The encoded data was not valid for encoding utf-8',
    bom: ['A', 2],
    encodeInto: [{ read: 2, written: 4 }, [0x61, 0xe2, 0x82, 0xac, 0]],
    stream: '|€',
    label: 'RangeError: TextDecoder: encoding "latin1" is not supported (utf-8 only)',
  })
})

t.test('atob and btoa follow forgiving base64 and throw InvalidCharacterError DOMExceptions', async (t) => {
  const value = await evaluate(t, `${THROWS}
    return [btoa('hello'), btoa(''), btoa('\\xff\\xfe'), atob('aGVs bG8='), atob('aGVsbG8'), throws(() => atob('a'), true), throws(() => atob('aGVs=bG8'), true), throws(() => btoa('€'), true), atob('YQ==') === 'a']`)
  t.same(value, ['aGVsbG8=', '', '//4=', 'hello', 'hello', 'InvalidCharacterError(5)', 'InvalidCharacterError(5)', 'InvalidCharacterError(5)', true])
})

t.test('Response.json, Response.redirect and status rules follow the Fetch standard', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const json = Response.json({ a: 1 }, { status: 201, headers: { 'x-one': '1' } })
    const redirect = Response.redirect('https://example.com/a b', 301)
    return {
      json: [json.status, json.headers.get('content-type'), json.headers.get('x-one'), await json.json()],
      redirect: [redirect.status, redirect.headers.get('location'), redirect.body, redirect.ok],
      badRedirect: throws(() => Response.redirect('https://example.com', 200)),
      nullBody: throws(() => new Response('x', { status: 204 })),
      badStatus: throws(() => new Response(null, { status: 600 })),
      error: [Response.error().type, Response.error().status],
      text: [new Response('hé').headers.get('content-type'), await new Response(new Uint8Array([104, 105])).text()],
    }`)
  t.same(value, {
    json: [201, 'application/json', '1', { a: 1 }],
    redirect: [301, 'https://example.com/a%20b', null, false],
    badRedirect: 'RangeError: Response.redirect: invalid status 200',
    nullBody: 'TypeError: Response: status 204 cannot have a body',
    badStatus: 'RangeError: Response: status 600 is outside the range 200 to 599',
    error: ['error', 0],
    text: ['text/plain;charset=UTF-8', 'hi'],
  })
})

t.test('Request: clone before reading, bodyUsed after, no body on GET, an AbortSignal always there', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const request = new Request('https://example.com/x', { method: 'post', body: '{"n":1}', headers: { 'content-type': 'application/json' } })
    const copy = request.clone()
    const first = await request.json()
    const controller = new AbortController()
    const withSignal = new Request(request.url, { signal: controller.signal })
    controller.abort()
    return {
      method: request.method,
      first, fromCopy: await copy.text(),
      used: [request.bodyUsed, copy.bodyUsed],
      again: await rejects(() => request.text()),
      cloneUsed: throws(() => request.clone()),
      getBody: throws(() => new Request('https://example.com', { method: 'GET', body: 'x' })),
      signal: [new Request('https://example.com').signal instanceof AbortSignal, new Request('https://example.com').signal.aborted, withSignal.signal.aborted],
      badUrl: throws(() => new Request('/relative')),
    }`)
  t.same(value, {
    method: 'POST',
    first: { n: 1 },
    fromCopy: '{"n":1}',
    used: [true, true],
    again: 'TypeError: Body has already been used',
    cloneUsed: 'TypeError: cannot clone: body has already been used',
    getBody: 'TypeError: Request with GET/HEAD method cannot have body',
    signal: [true, false, true],
    badUrl: 'TypeError: Invalid URL: /relative',
  })
})

t.test('crypto: getRandomValues and randomUUID from host entropy, subtle.digest as a Promise of an ArrayBuffer', async (t) => {
  const body = `${THROWS}
    Math.random = () => 0
    const bytes = crypto.getRandomValues(new Uint8Array(32))
    const words = new Uint32Array(4)
    const same = crypto.getRandomValues(words) === words
    const uuids = Array.from({ length: 100 }, () => crypto.randomUUID())
    const pending = crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'))
    const digest = await pending
    return {
      distinctBytes: new Set(bytes).size > 16,
      same,
      uuid: uuids.every((u) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u)),
      distinctUuids: new Set(uuids).size,
      firstUuid: uuids[0],
      isPromise: pending instanceof Promise,
      isArrayBuffer: digest instanceof ArrayBuffer,
      sha256: hex(digest),
      sha1: hex(await crypto.subtle.digest({ name: 'sha-1' }, new TextEncoder().encode('abc'))),
      sha512: hex(await crypto.subtle.digest('SHA-512', new Uint8Array(0))).slice(0, 32),
      unknown: await rejects(() => crypto.subtle.digest('MD5', new Uint8Array(1))),
      floats: throws(() => crypto.getRandomValues(new Float64Array(2)), true),
      tooMany: throws(() => crypto.getRandomValues(new Uint8Array(65537)), true),
    }`
  const one = (await evaluate(t, body, 'crypto-one')) as Record<string, unknown>
  const two = (await evaluate(t, body, 'crypto-two')) as Record<string, unknown>
  t.match(one, {
    distinctBytes: true,
    same: true,
    uuid: true,
    distinctUuids: 100,
    isPromise: true,
    isArrayBuffer: true,
    sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    sha1: 'a9993e364706816aba3e25717850c26c9cd0d89d',
    sha512: 'cf83e1357eefb8bdf1542850d66d8007',
    unknown: 'NotSupportedError: Unrecognized algorithm name: MD5',
    floats: 'TypeMismatchError(17)',
    tooMany: 'QuotaExceededError(22)',
  })
  t.not(one.firstUuid, two.firstUuid, 'each isolate is seeded separately by the host')
})

t.test('structuredClone keeps shared and circular references and refuses what cannot be cloned', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const shared = { n: 1 }
    const source = { shared, again: shared, date: new Date(5), re: /a+/gi, map: new Map([[1, shared]]), set: new Set(['x']), bytes: new Uint16Array([1, 2]), big: 10n, error: new RangeError('r') }
    source.self = source
    const copy = structuredClone(source)
    return {
      fresh: copy !== source && copy.shared !== shared,
      sharedKept: copy.shared === copy.again && copy.map.get(1) === copy.shared,
      circular: copy.self === copy,
      values: [copy.date.getTime(), String(copy.re), copy.set.has('x'), [...copy.bytes], copy.big === 10n, copy.error instanceof RangeError, copy.error.message],
      fn: throws(() => structuredClone({ f() {} }), true),
      symbol: throws(() => structuredClone(Symbol('s')), true),
      headers: throws(() => structuredClone(new Headers()), true),
      weak: throws(() => structuredClone(new WeakMap()), true),
      transfer: throws(() => structuredClone(new ArrayBuffer(1), { transfer: [new ArrayBuffer(1)] }), true),
      domException: structuredClone(new DOMException('m', 'AbortError')).code,
    }`)
  t.same(value, {
    fresh: true,
    sharedKept: true,
    circular: true,
    values: [5, '/a+/gi', true, [1, 2], true, true, 'r'],
    fn: 'DataCloneError(25)',
    symbol: 'DataCloneError(25)',
    headers: 'DataCloneError(25)',
    weak: 'DataCloneError(25)',
    transfer: 'DataCloneError(25)',
    domException: 20,
  })
})

t.test('setTimeout and clearTimeout: ordered, cancellable, with arguments, and logging into their own run', async (t) => {
  const result = await pool.run(runTask('timers', `
    const order = []
    await new Promise((resolve) => {
      setTimeout((a, b) => order.push('late ' + a + b), 20, 'x', 'y')
      const cancelled = setTimeout(() => order.push('cancelled'), 5)
      setTimeout(() => { order.push('early'); console.log('from a timer') }, 1)
      clearTimeout(cancelled)
      setTimeout(resolve, 40)
    })
    queueMicrotask(() => order.push('microtask'))
    await null
    return order`))
  t.same(result.output, ['early', 'late xy', 'microtask'])
  t.same(result.logs.map((entry) => entry.message), ['from a timer'])
  t.equal(result.metrics.apiCalls, 4, 'each timer is one host call')
})

t.test('timers do not outlive their run, and concurrent runs keep their own logs', async (t) => {
  const source = `
    const name = input.name
    setTimeout(() => console.log('after the run of ' + name), 30)
    await new Promise((resolve) => setTimeout(resolve, input.wait))
    console.log('end of ' + name)
    return name`
  const task = (name: string, wait: number): RunTask => ({ ...runTask('timers-concurrent', source), input: { name, wait } })
  const [slow, fast] = await Promise.all([pool.run(task('slow', 60)), pool.run(task('fast', 5))])
  t.same(slow.logs.map((entry) => entry.message), ['after the run of slow', 'end of slow'])
  t.same(fast.logs.map((entry) => entry.message), ['end of fast'], "the fast run's timer was dropped when it ended, not logged into the slow one")
  const next = await pool.run(task('next', 50))
  t.same(next.logs.map((entry) => entry.message), ['after the run of next', 'end of next'])
  const topLevel = await pool.run({ ...runTask('timers-top', 'return 1'), program: program('timers-top', `setTimeout(() => {}, 1)\nexport default { run() { return 1 } }`) })
  t.match(topLevel.error, { code: 'SCRIPT_ERROR', name: 'TypeError', message: /setTimeout can only be used while a handler runs/ })
  const after = await pool.run(runTask('timers-top', 'return "still serving"'))
  t.equal(after.output, 'still serving', 'a program that failed to start ends only its own run')
  t.equal(after.metrics.start, 'warm', 'in the same isolate: the worker thread did not crash')
})

t.test('an error thrown in a timer callback ends the run with that error', async (t) => {
  const result = await pool.run(runTask('timers-throw', `
    setTimeout(() => { throw new RangeError('from the timer') }, 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    return 'not reached'`))
  t.match(result, { ok: false, error: { code: 'SCRIPT_ERROR', name: 'RangeError', message: 'from the timer', line: 3 } }, JSON.stringify(result.error))
})

t.test('a fetch handler that returns its Response as it is still fails with an error a queued microtask threw; an env and route params with nothing in them are one frozen object each', async (t) => {
  const thrower = await pool.run(fetchTask('microtask-throw', `export default { fetch() { queueMicrotask(() => { throw new RangeError('from the microtask') }); return new Response('not sent') } }`))
  t.match(thrower, { ok: false, error: { code: 'SCRIPT_ERROR', name: 'RangeError', message: 'from the microtask' } }, JSON.stringify(thrower.error))
  const source = `let last = null
let lastParams = null
export default { fetch(request, env) {
  const same = env === last
  const sameParams = request.params === lastParams
  last = env
  lastParams = request.params
  return Response.json({ same, frozen: Object.isFrozen(env), keys: Object.keys(env), sameParams, params: request.params, paramsFrozen: Object.isFrozen(request.params) })
} }`
  const first = await pool.run(fetchTask('env-empty', source))
  const second = await pool.run(fetchTask('env-empty', source))
  t.same(JSON.parse(bodyText(first.response?.body)), { same: false, frozen: true, keys: [], sameParams: false, params: {}, paramsFrozen: true })
  t.same(JSON.parse(bodyText(second.response?.body)), { same: true, frozen: true, keys: [], sameParams: true, params: {}, paramsFrozen: true })
  const bound = await pool.run({ ...fetchTask('env-empty', source, { params: { id: '7' } }), env: { A: '1' } })
  t.same(JSON.parse(bodyText(bound.response?.body)), { same: false, frozen: true, keys: ['A'], sameParams: false, params: { id: '7' }, paramsFrozen: true })
})

t.test('AbortController and AbortSignal: abort once with a reason, events, timeout and any', async (t) => {
  const value = await evaluate(t, `${THROWS}
    const controller = new AbortController()
    const seen = []
    controller.signal.addEventListener('abort', (event) => seen.push(event.type + ':' + (event.target === controller.signal)))
    controller.signal.onabort = () => seen.push('onabort')
    controller.signal.addEventListener('abort', () => seen.push('once'), { once: true })
    const follower = AbortSignal.any([controller.signal, new AbortController().signal])
    controller.abort()
    controller.abort('second time')
    const timeout = AbortSignal.timeout(5)
    await new Promise((resolve) => timeout.addEventListener('abort', resolve))
    return {
      seen,
      reason: [controller.signal.reason.name, controller.signal.reason.code, controller.signal.reason instanceof DOMException],
      follower: [follower.aborted, follower.reason === controller.signal.reason],
      throwIfAborted: throws(() => controller.signal.throwIfAborted()),
      custom: AbortSignal.abort('why').reason,
      timeout: [timeout.aborted, timeout.reason.name],
      constructor: throws(() => new AbortSignal()),
      eventTarget: controller.signal instanceof EventTarget,
    }`)
  t.same(value, {
    seen: ['abort:true', 'onabort', 'once'],
    reason: ['AbortError', 20, true],
    follower: [true, true],
    throwIfAborted: 'AbortError: This operation was aborted',
    custom: 'why',
    timeout: [true, 'TimeoutError'],
    constructor: 'TypeError: Illegal constructor',
    eventTarget: true,
  })
})

t.test('a runtime error after awaits points at the tenant source, not the platform', async (t) => {
  const result: RunResult = await pool.run(runTask('errors-after-await', `
    await new Promise((resolve) => setTimeout(resolve, 1))
    await null
    const value = null
    return value.missing`))
  t.match(result, { ok: false, error: { code: 'SCRIPT_ERROR', name: 'TypeError', line: 6, column: 18 } })
  t.match(result.error?.stack, /^TypeError: Cannot read properties of null \(reading 'missing'\)\n {4}at Object\.run \(script\.js:6:18\)$/)
})

t.test("an HTTP request's input text: a text body, a binary body (beside the text, as null in it), env and params as given; a request of other fields keeps them", async (t) => {
  const headers: Array<[string, string]> = [['x-a', '1']]
  const parsed = (json: string): unknown => JSON.parse(json.slice(0, json.indexOf('\n')))
  const env = { A: 'a "quoted" value', B: 'b\nline' }
  const text = runArgs({ kind: 'fetch', input: { method: 'POST', url: 'http://example.test/p?q=1', headers, body: 'say "hi"\n', params: { id: '7' } }, env })
  t.same(parsed(text.json), { input: { method: 'POST', url: 'http://example.test/p?q=1', body: 'say "hi"\n', params: { id: '7' } }, env })
  t.equal(text.body, null)
  const bytes = new Uint8Array([1, 2, 3])
  const binary = runArgs({ kind: 'fetch', input: { method: 'PUT', url: 'http://example.test/', headers, body: bytes, params: {} }, env: {} })
  t.same(parsed(binary.json), { input: { method: 'PUT', url: 'http://example.test/', body: null, params: {} }, env: {} })
  t.same(binary.body, bytes)
  const extra = runArgs({ kind: 'fetch', input: { method: 'GET', url: 'http://example.test/', headers, body: null, params: {}, cf: { colo: 'LHR' } }, env: {} })
  t.same(parsed(extra.json), { input: { method: 'GET', url: 'http://example.test/', body: null, params: {} }, env: {} }, 'the data plane\'s fields only: the isolate reads no other')
  const noParams = runArgs({ kind: 'fetch', input: { method: 'GET', url: 'http://example.test/', headers, body: null }, env: {} })
  t.same(parsed(noParams.json), { input: { method: 'GET', url: 'http://example.test/', body: null }, env: {} }, 'a request without params is written as it is')
})

t.test("an HTTP request's headers cross as text of their own after its input, parsed when the script reads them: the same headers through clone and new Request; headers that are not string pairs take the checked path", async (t) => {
  const pairs: Array<[string, string]> = [['x-a', '1'], ['x-b', 'two "quoted" \\'], ['x-a', '3'], ['accept', 'text/html']]
  const args = runArgs(fetchTask('headers-text', 'export default {}', { headers: pairs, params: { id: '7' } }))
  const cut = args.json.indexOf('\n')
  t.ok(cut > 0, 'the headers follow a newline')
  t.same(JSON.parse(args.json.slice(0, cut)), { input: { method: 'GET', url: 'http://example.test/', body: null, params: { id: '7' } }, env: {} }, 'the input without its headers')
  t.same(pairsFromHeaderText(args.json.slice(cut + 1)), pairs, 'the headers as pairs')
  t.equal(args.json.slice(cut + 1), 'x-a\n1\nx-b\ntwo "quoted" \\\nx-a\n3\naccept\ntext/html', 'a name and a value a line, as they came')
  t.equal(runArgs({ kind: 'run', input: { a: 'b\nc' }, env: {} }).json.indexOf('\n'), -1, 'other runs keep one JSON text')

  const echo = `export default { fetch(request) {
    const same = request.headers === request.headers
    return Response.json({ all: [...request.headers], same, clone: request.clone().headers.get('x-a'), copy: new Request(request).headers.get('x-b'), id: request.params.id })
  } }`
  const result = await pool.run(fetchTask('headers-text', echo, { headers: pairs, params: { id: '7' } }))
  t.equal(result.ok, true, result.error?.message ?? '')
  t.same(JSON.parse(bodyText(result.response?.body)), { all: [['accept', 'text/html'], ['x-a', '1, 3'], ['x-b', 'two "quoted" \\']], same: true, clone: '1, 3', copy: 'two "quoted" \\', id: '7' })
  // A task made elsewhere (an API run) with headers as an object: one JSON text, headers checked in the isolate.
  const objectHeaders = await pool.run({ ...fetchTask('headers-text', echo), input: { method: 'GET', url: 'http://example.test/', headers: { 'X-C': '4' }, body: null, params: {} } })
  t.equal(objectHeaders.ok, true, objectHeaders.error?.message ?? '')
  t.same(JSON.parse(bodyText(objectHeaders.response?.body)).all, [['x-c', '4']])
})

t.test("a run's input and result cross the isolate's edge as JSON text the platform parses with JSON functions taken before the script ran", async (t) => {
  // The script replaces JSON.parse and JSON.stringify at its top level: its runs still get their
  // request and env, and their responses still get out, text and binary alike.
  const sabotage = `JSON.parse = () => ({ input: { url: 'http://forged.test/' }, env: { SECRET: 'forged' } }); JSON.stringify = () => '"forged"'`
  const echo = `${sabotage}
    export default { async fetch(request, env) {
      const text = await request.text()
      if (request.headers.get('x-binary') === '1') return new Response(new Uint8Array([1, 2, 3]))
      return new Response(request.method + ' ' + request.url + ' ' + text + ' ' + env.GREETING + ' ' + request.headers.get('x-a'), { headers: { 'x-b': 'b' } })
    } }`
  const text = await pool.run({ ...fetchTask('json-edge', echo, { method: 'POST', url: 'http://in.test/p?q=1', headers: [['x-a', 'a"\\\\']], body: new TextEncoder().encode('bytes ✓') }), env: { GREETING: 'héllo' } })
  t.equal(text.ok, true, text.error?.message ?? '')
  t.equal(bodyText(text.response?.body), 'POST http://in.test/p?q=1 bytes ✓ héllo a"\\\\')
  t.same(text.response?.headers.find(([name]) => name === 'x-b'), ['x-b', 'b'])
  const binary = await pool.run(fetchTask('json-edge', echo, { headers: [['x-binary', '1']] }))
  t.equal(binary.ok, true, binary.error?.message ?? '')
  t.same([...new Uint8Array(binary.response?.body as ArrayBuffer)], [1, 2, 3])
  // A toJSON on Object.prototype or Array.prototype would change the text: such a run's result
  // leaves as objects. One whose toJSON hides from that check (undefined for its two reads, on
  // Object.prototype and through Array.prototype) gets its own invalid response, and
  // the thread serves the next run.
  const polluted = await pool.run(fetchTask('json-polluted', `export default { fetch() { Array.prototype.toJSON = () => 'x'; return new Response('hi', { headers: { a: 'b' } }) } }`))
  t.equal(bodyText(polluted.response?.body), 'hi', polluted.error?.message ?? '')
  t.same(polluted.response?.headers.find(([name]) => name === 'a'), ['a', 'b'])
  const hidden = await pool.run(fetchTask('json-hidden', `let reads = 0
    export default { fetch() { Object.defineProperty(Object.prototype, 'toJSON', { get() { return reads++ < 2 ? undefined : () => 'x' }, configurable: true }); return new Response('hi') } }`))
  t.equal(hidden.ok, false)
  t.equal(hidden.error?.code, 'SCRIPT_INVALID_RESPONSE')
  const after = await pool.run(fetchTask('json-after', `export default { fetch() { return new Response('fine') } }`))
  t.equal(bodyText(after.response?.body), 'fine')
})

t.test('a script that adds names to Object.prototype still gets its own handler and response', async (t) => {
  // The platform's handler lookup returns no record whose fields such names could stand in for.
  for (const name of ['result', 'program', 'handler']) {
    const run = await pool.run(fetchTask(`proto-${name}`, `Object.prototype.${name} = { output: 'polluted', failure: { code: 'X', message: 'polluted' } }
      export default { fetch() { return new Response('own ${name}') } }`))
    t.equal(run.ok, true, `${name}: ${run.error?.code ?? ''} ${run.error?.message ?? ''}`)
    t.equal(bodyText(run.response?.body), `own ${name}`)
  }
})
