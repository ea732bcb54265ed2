import t, { type Test } from 'tap'
import { IsolatePool, type RunResult, type RunTask } from '../runner/index.js'
import { LIMITS, bodyText, fetchTask, program } from './helpers/programs.js'
import { moduleUrl } from './helpers/paths.js'

const pool = new IsolatePool({ threads: 1, hostApiModules: [moduleUrl('test/fixtures/host-apis.ts')] })
t.teardown(() => pool.close())

/** Runs `body` as the `run` handler (`input`, `env`, `ctx` in scope) and returns the run's result. */
function run(tenantId: string, body: string): Promise<RunResult> {
  const task: RunTask = { kind: 'run', program: program(tenantId, `export default { async run(input, env, ctx) {\n${body}\n} }`), input: null, env: {}, limits: LIMITS }
  return pool.run(task)
}

async function output(t: Test, tenantId: string, body: string): Promise<unknown> {
  const result = await run(tenantId, body)
  t.equal(result.ok, true, `the run succeeded${result.error ? `: ${result.error.code} ${result.error.message}` : ''}`)
  return result.output
}

/** Tries each attempt; answers what it threw ("EvalError: ..."), or what it returned. */
const ATTEMPTS = `
  const attempt = (fn) => { try { const value = fn(); return 'returned ' + typeof value } catch (error) { return error.name + ': ' + error.message } }
`

t.test('constructor chains from handlers, async and generator functions end in EvalError, never in a host object', async (t) => {
  const source = `export default { fetch() {
    ${ATTEMPTS}
    const results = [
      attempt(() => this.constructor.constructor('return process')()),
      attempt(() => (async function () {}).constructor('return process')),
      attempt(() => (function* () {}).constructor('return process')),
      attempt(() => (async function* () {}).constructor('return process')),
      attempt(() => Object.getPrototypeOf(async () => {}).constructor('return this')),
      attempt(() => Reflect.construct(Function, ['return globalThis'])),
      attempt(() => new Error().constructor.constructor('return process')()),
      attempt(() => eval('1 + 1')),
    ]
    return Response.json(results)
  } }`
  const result = await pool.run(fetchTask('sandbox-chains', source))
  t.same(JSON.parse(bodyText(result.response?.body)), Array(8).fill('EvalError: Code generation from strings is not allowed'))
})

t.test('an Error the host produced leads back only to the isolate\'s own constructors', async (t) => {
  const value = await output(t, 'sandbox-host-error', `
    ${ATTEMPTS}
    let error
    try { await ctx.test.fail('boom') } catch (e) { error = e }
    return [
      error instanceof Error,
      Object.getPrototypeOf(error) === Error.prototype,
      attempt(() => error.constructor.constructor('return process')()),
      attempt(() => Object.getPrototypeOf(Object.getPrototypeOf(error)).constructor.constructor('return process')()),
      Object.getOwnPropertyNames(error).sort(),
    ]`)
  t.same(value, [true, true, 'EvalError: Code generation from strings is not allowed', 'EvalError: Code generation from strings is not allowed', ['code', 'message', 'stack']])
})

t.test('Error.prepareStackTrace sees no function and no receiver of a platform frame, and no host file', async (t) => {
  const value = await output(t, 'sandbox-prepare', `
    const frames = []
    Error.prepareStackTrace = (error, callSites) => {
      for (const site of callSites) frames.push({ file: String(site.getFileName()), fn: typeof site.getFunction(), self: typeof site.getThis() })
      return 'custom'
    }
    let stack
    try { await ctx.test.fail('x') } catch (e) { stack = e.stack }
    try { new Headers([['bad name', 'x']]) } catch (e) { stack += ' ' + e.stack }
    const files = [...new Set(frames.map((f) => f.file))].sort()
    return { stack, files, functions: [...new Set(frames.filter((f) => f.file !== 'script.js').map((f) => f.fn + '/' + f.self))] }`)
  t.same(value, { stack: 'custom custom', files: ['isogate:platform', 'script.js'], functions: ['undefined/undefined'] })
})

t.test('a Proxy passed to a host API fails in the isolate and never reaches the host', async (t) => {
  const value = await output(t, 'sandbox-proxy', `
    const before = await ctx.test.echoes()
    const trapped = []
    const proxy = new Proxy({}, { get(target, key) { trapped.push(String(key)); return 1 }, ownKeys() { trapped.push('ownKeys'); return ['a'] } })
    let error = null
    try { await ctx.test.echo(proxy) } catch (e) { error = e.name + ': ' + e.message }
    const getter = await ctx.test.echo({ get a() { return 'read in the isolate' } })
    return { error, echoesDuringProxy: (await ctx.test.echoes()) - before - 1, getter }`)
  t.match(value, { error: /could not be cloned/, echoesDuringProxy: 0, getter: { a: 'read in the isolate' } })
})

t.test('Symbol.species and a replaced Promise.prototype.then on a host promise reach only isolate functions', async (t) => {
  const value = await output(t, 'sandbox-species', `
    ${ATTEMPTS}
    const captured = []
    class Spy extends Promise {
      constructor(executor) { super((resolve, reject) => { captured.push(resolve, reject); executor(resolve, reject) }) }
    }
    const pending = ctx.test.echo('one')
    pending.constructor = Spy
    Object.defineProperty(Promise, Symbol.species, { get() { return Spy } })
    const viaSpecies = await pending.then((v) => v + '!')
    const originalThen = Promise.prototype.then
    let intercepted = 0
    Promise.prototype.then = function (...args) { intercepted++; return originalThen.apply(this, args) }
    const afterThen = await ctx.test.echo('two')
    Promise.prototype.then = originalThen
    const probe = await ctx.test.probe()
    return {
      viaSpecies, afterThen, probe,
      capturedAreFunctions: captured.length > 0 && captured.every((f) => typeof f === 'function'),
      escapes: [...new Set(captured.map((f) => attempt(() => f.constructor('return process')())))],
      interceptedNothingOfTheHost: typeof intercepted,
    }`)
  t.same(value, {
    viaSpecies: 'one!',
    afterThen: 'two',
    probe: { objectPolluted: null, arrayPolluted: null, thenIntact: true, processAlive: true },
    capturedAreFunctions: true,
    escapes: ['EvalError: Code generation from strings is not allowed'],
    interceptedNothingOfTheHost: 'number',
  })
})

t.test('prototype pollution in one tenant is invisible to another tenant, to its other scripts and to the host', async (t) => {
  const polluted = await output(t, 'sandbox-polluter', `
    Object.prototype.polluted = 'yes'
    Array.prototype.polluted = 'yes'
    Object.defineProperty(Object.prototype, 'ok', { get() { return false }, configurable: true })
    const probe = await ctx.test.probe()
    return { here: ({}).polluted, probe }`)
  t.same(polluted, { here: 'yes', probe: { objectPolluted: null, arrayPolluted: null, thenIntact: true, processAlive: true } })
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'the test process is untouched')
  const other = await output(t, 'sandbox-bystander', `return [({}).polluted ?? null, [].polluted ?? null]`)
  t.same(other, [null, null])
  const sameTenantOtherScript = await output(t, 'sandbox-polluter', `return [({}).polluted ?? null, 'second script']`)
  t.same(sameTenantOtherScript, [null, 'second script'], 'each script of a tenant has its own context')
})

t.test('no Node, isolated-vm or shared-memory globals, and exactly the documented globals', async (t) => {
  const value = (await output(t, 'sandbox-globals', `
    const names = ['process', 'require', 'module', 'exports', 'Buffer', 'global', 'SharedArrayBuffer', 'Atomics', 'ivm', '_ivm', 'fs', 'setImmediate', '__isogate', 'isogatePlatform']
    // Globals most runs never touch are answered by the global object's prototype until first use.
    const lazy = Object.getOwnPropertyNames(Object.getPrototypeOf(globalThis))
    const before = { inGlobal: 'ReadableStream' in globalThis, own: Object.hasOwn(globalThis, 'ReadableStream') }
    const type = typeof ReadableStream
    const after = { own: Object.hasOwn(globalThis, 'ReadableStream'), lazy: Object.getOwnPropertyNames(Object.getPrototypeOf(globalThis)).includes('ReadableStream') }
    globalThis.URLPattern = 'replaced'
    const replaced = URLPattern
    return {
      types: Object.fromEntries(names.map((name) => [name, typeof globalThis[name]])),
      globals: [...new Set([...Object.getOwnPropertyNames(globalThis), ...lazy])].sort(),
      firstUse: { before, type, after, replaced },
    }`)) as { types: Record<string, string>; globals: string[]; firstUse: unknown }
  t.same(Object.values(value.types), Array(14).fill('undefined'))
  const builtins = ['AggregateError', 'Array', 'ArrayBuffer', 'BigInt', 'BigInt64Array', 'BigUint64Array', 'Boolean', 'DataView', 'Date', 'Error',
    'EvalError', 'FinalizationRegistry', 'Float32Array', 'Float64Array', 'Function', 'Infinity', 'Int16Array', 'Int32Array', 'Int8Array', 'Intl',
    'JSON', 'Map', 'Math', 'NaN', 'Number', 'Object', 'Promise', 'Proxy', 'RangeError', 'ReferenceError', 'Reflect', 'RegExp', 'Set', 'String',
    'Symbol', 'SyntaxError', 'TypeError', 'URIError', 'Uint16Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray', 'WeakMap', 'WeakRef',
    'WeakSet', 'WebAssembly', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'eval', 'globalThis', 'isFinite',
    'isNaN', 'parseFloat', 'parseInt', 'undefined', 'unescape']
  const platform = ['AbortController', 'AbortSignal', 'Blob', 'ByteLengthQueuingStrategy', 'CompressionStream', 'CountQueuingStrategy', 'Crypto',
    'CryptoKey', 'CustomEvent', 'DOMException', 'DecompressionStream', 'Event', 'EventTarget', 'File', 'FormData', 'Headers', 'ReadableByteStreamController',
    'ReadableStream', 'ReadableStreamBYOBReader', 'ReadableStreamDefaultController', 'ReadableStreamDefaultReader', 'Request', 'Response',
    'SubtleCrypto', 'TextDecoder', 'TextDecoderStream', 'TextEncoder', 'TextEncoderStream', 'TransformStream', 'URL', 'URLPattern', 'URLSearchParams',
    'WritableStream', 'WritableStreamDefaultWriter', 'atob', 'btoa', 'clearInterval', 'clearTimeout', 'console', 'crypto', 'fetch', 'navigator',
    'performance', 'queueMicrotask', 'scheduler', 'self', 'setInterval', 'setTimeout', 'structuredClone']
  t.same(value.globals, [...builtins, ...platform].sort())
  t.same(value.firstUse, { before: { inGlobal: true, own: false }, type: 'function', after: { own: true, lazy: false }, replaced: 'replaced' }, 'a global loaded on first use becomes an own, writable property')
})

t.test('import() is refused with a clear error, at check and at run time', async (t) => {
  const source = `export default {\n  async fetch() {\n    const fs = await import('node:fs')\n    return new Response(typeof fs)\n  },\n}`
  const checked = await pool.check(source)
  t.match(checked, { ok: false, error: { code: 'SCRIPT_IMPORT_FORBIDDEN', message: /dynamic import\(\) is not allowed/, line: 3, column: 22 } })
  t.match(checked.error?.pointer, /await import\('node:fs'\)\n {21}\^/)
  const ran = await pool.run(fetchTask('sandbox-import', source))
  t.match(ran, { ok: false, error: { code: 'SCRIPT_IMPORT_FORBIDDEN', line: 3, column: 22 } })
  const staticImport = await pool.run(fetchTask('sandbox-import', `import x from './other.js'\nexport default { fetch() { return new Response(x) } }`))
  t.match(staticImport, { ok: false, error: { code: 'SCRIPT_IMPORT_FORBIDDEN', message: /"\.\/other\.js"/ } })
  const inAString = await pool.run(fetchTask('sandbox-import', `export default { fetch() { return new Response("import('x') is just text") } }`))
  t.equal(bodyText(inAString.response?.body), "import('x') is just text", 'the word import in a string is fine')
})

t.test('a host function that rejects becomes a catchable Error in the script and never crashes the worker', async (t) => {
  const caught = await output(t, 'sandbox-reject', `
    const results = []
    try { await ctx.test.fail('boom') } catch (e) { results.push([e instanceof Error, e.name, e.message, e.code]) }
    try { await ctx.test.failType() } catch (e) { results.push([e instanceof TypeError, e.name, e.message, e.code ?? null]) }
    return results`)
  t.same(caught, [[true, 'Error', 'boom', 'E_TEST'], [true, 'TypeError', 'bad type from the host', null]])
  const uncaught = await run('sandbox-reject', `\n  await ctx.test.fail('not caught')`)
  t.match(uncaught, { ok: false, error: { code: 'SCRIPT_ERROR', name: 'Error', message: 'not caught', line: 3 } })
  t.notMatch(uncaught.error?.stack ?? '', /host-apis|node:internal|worker/, 'no host frames in the stack')
  const leftDangling = await output(t, 'sandbox-reject', `ctx.test.fail('nobody waits for this'); return 'returned'`)
  t.equal(leftDangling, 'returned')
  const after = await output(t, 'sandbox-reject', `return ctx.test.tenant()`)
  t.equal(after, 'sandbox-reject', 'the worker still serves, and host APIs are bound to the calling tenant')
  t.equal((await pool.stats()).isolateMisses > 0, true)
})

t.test('a host call a run never awaited cannot fail the same tenant\'s next run, whenever it rejects', async (t) => {
  for (let i = 0; i < 40; i++) {
    t.equal(await output(t, 'sandbox-dangling', `ctx.test.fail('left behind'); return 'returned'`), 'returned')
    // Back to back and after a pause: the late rejection lands during the next run or before it.
    if (i % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 20))
    t.equal(await output(t, 'sandbox-dangling', `await ctx.test.tenant(); return ctx.test.tenant()`), 'sandbox-dangling')
  }
})

t.test('host APIs not exposed to scripts cannot be called, and one tenant\'s globals are invisible to another', async (t) => {
  const value = await output(t, 'sandbox-exposed', `
    globalThis.secret = 'tenant one'
    return [Object.keys(ctx).sort(), Object.keys(ctx.test).sort(), typeof ctx.test.hidden]`)
  t.same(value, [['logger', 'passThroughOnException', 'test', 'waitUntil'], ['blockSoon', 'echo', 'echoes', 'fail', 'failType', 'probe', 'slow', 'tenant'], 'undefined'])
  const other = await output(t, 'sandbox-other', `return typeof globalThis.secret`)
  t.equal(other, 'undefined')
})

t.test('ctx makes each namespace once a run, its methods work detached, and nothing on it leads to the run behind it', async (t) => {
  const value = await output(t, 'sandbox-ctx', `
    ${ATTEMPTS}
    const { echo } = ctx.test
    const getter = Object.getOwnPropertyDescriptor(ctx, 'test').get
    return {
      same: ctx.test === ctx.test && ctx.logger === ctx.logger,
      detached: await echo('far'),
      spread: Object.keys({ ...ctx }).sort(),
      frozen: Object.isFrozen(ctx) && Object.isFrozen(ctx.test) && Object.isFrozen(Object.getPrototypeOf(ctx)),
      constructor: ctx.constructor === Object,
      prototype: Object.getOwnPropertyNames(Object.getPrototypeOf(ctx)),
      foreign: attempt(() => getter.call({})),
      borrowed: attempt(() => getter.call(Object.create(ctx))),
    }`)
  t.same(value, {
    same: true,
    detached: 'far',
    spread: ['logger', 'passThroughOnException', 'test', 'waitUntil'],
    frozen: true,
    constructor: true,
    prototype: [],
    foreign: 'TypeError: Illegal invocation',
    borrowed: 'TypeError: Illegal invocation',
  })
})

t.test('each version of a script starts in a fresh context, also when a spare context was prepared for it', async (t) => {
  const version = (n: number): RunTask => ({
    kind: 'run',
    program: program('sandbox-versions', `export default { run() { const seen = globalThis.mark ?? null; globalThis.mark = ${n}; Array.prototype.mark = ${n}; return [seen, [].mark] } }`, 'versioned', n),
    input: null,
    env: {},
    limits: LIMITS,
  })
  const outputs: unknown[] = []
  for (let n = 1; n <= 4; n++) {
    const result = await pool.run(version(n))
    outputs.push([result.metrics.start, result.output])
    // Let the worker go idle, so the spare context for the next version is ready.
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.same(outputs, [['cold', [null, 1]], ['warm', [null, 2]], ['warm', [null, 3]], ['warm', [null, 4]]])
  const again = await pool.run(version(2))
  t.same([again.metrics.start, again.output], ['hot', [2, 2]], 'module and global state persist between runs of one version')
})

t.test('a spare context\'s warm-up run leaves nothing behind: a version started in one sees the top level as a fresh context does', async (t) => {
  // What the top level of a script sees of "the current run": timers refuse, fetch refuses, a
  // microtask it queues runs as no run's. Versions 1 and 2 start in fresh contexts; from version 3
  // on, each starts in the spare context prepared (and warmed up with a run of the platform's own)
  // while the worker was idle.
  const source = (n: number): string => `
    const seen = []
    try { setTimeout(() => {}, 1); seen.push('timer set') } catch (error) { seen.push(String(error)) }
    seen.push(typeof queueMicrotask(() => { globalThis.microtaskRan = true }))
    const fetched = fetch('http://example.test/').then(() => 'fetched', (error) => String(error))
    console.log('top level of ${n}')
    export default { async run() { return [...seen, globalThis.microtaskRan ?? false, await fetched] } }`
  const version = (n: number): RunTask => ({ kind: 'run', program: program('sandbox-warm-up', source(n), 'top-level', n), input: null, env: {}, limits: LIMITS })
  const seen: unknown[] = []
  for (let n = 1; n <= 4; n++) {
    const result = await pool.run(version(n))
    t.equal(result.ok, true, `version ${n} ran: ${JSON.stringify(result.error)}`)
    t.same(result.logs, [], `version ${n}: no log line of the top level or of a warm-up reaches the run`)
    seen.push(result.output)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.same(seen.slice(1), [seen[0], seen[0], seen[0]], 'every version saw what the first, in a fresh context, saw')
  t.match(seen[0], ['TypeError: setTimeout can only be used while a handler runs, not at the top level of the script'])
})
