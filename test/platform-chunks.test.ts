import t, { type Test } from 'tap'
import type { DispatchResult } from '../runner/thread/host-bridge.js'
import { TenantIsolate } from '../runner/thread/tenant-isolate.js'
import { LimitEnforcer } from '../runner/thread/limit-enforcer.js'
import { LIMITS, program, request } from './helpers/programs.js'
import { runArgs } from '../runner/protocol.js'
import { bridge, platform, platformSource as source } from './helpers/main-thread-isolates.js'

// The platform's core runs in every context; the chunks (runner/platform-build.mjs) only in the
// contexts whose code used them. These tests hold the split to that: what a tenant never touches is
// not in its isolate, and what is loaded on first use behaves as one platform.

async function tenantWith(t: Test, tenantId: string): Promise<TenantIsolate> {
  const tenant = new TenantIsolate({ tenantId, memoryMb: 64, platform, bridge, maxPrograms: 4 })
  t.teardown(() => tenant.retire())
  return tenant
}

/** Runs a fetch handler with `body` in `tenant`, as version `version` of its script. */
async function fetchIn(tenant: TenantIsolate, body: string, version = 1): Promise<DispatchResult> {
  const ref = program(tenant.tenantId, `export default { async fetch(request, env, ctx) {\n${body}\n} }`, 'script-1', version)
  const compiled = await tenant.program(ref)
  const run = bridge.begin(tenant.tenantId, new LimitEnforcer({ ...LIMITS, apiCalls: 100 }))
  compiled.dispatch(run, 'fetch', runArgs({ kind: 'fetch', input: request({ url: 'http://chunks.test/a?b=c' }), env: {} }), 1 << 20)
  return run.result
}

function text(result: DispatchResult): string {
  t.equal(result.error, undefined, `no error${result.error ? `: ${result.error.message}` : ''}`)
  const body = (result.response as { body: string | ArrayBuffer | null }).body
  return typeof body === 'string' ? body : new TextDecoder().decode(body ?? new ArrayBuffer(0))
}

t.test('the core holds none of the chunks: each is a script of its own', async (t) => {
  t.same(Object.keys(source.chunks).sort(), [
    'abort', 'blob', 'compression', 'crypto', 'dom-exception', 'events', 'extras', 'form-data', 'noble-chacha', 'noble-hashes', 'node-assert', 'node-buffer',
    'node-crypto', 'node-events', 'node-util', 'streams', 'structured-clone', 'subtle', 'url-parser', 'url-pattern', 'url-standard',
  ])
  const markers: Record<string, string> = {
    'dom-exception': 'INVALID_CHARACTER_ERR', events: 'stopImmediatePropagation', crypto: 'SHA-512', 'noble-chacha': 'expand 32-byte k', 'url-standard': 'Invalid URL',
    streams: 'highWaterMark', compression: 'Unsupported compression format', 'form-data': 'Failed to parse body as FormData', subtle: 'key is not extractable',
    'node-buffer': 'INSPECT_MAX_BYTES', 'url-pattern': 'hasRegExpGroups',
  }
  for (const [chunk, marker] of Object.entries(markers)) {
    t.ok(source.chunks[chunk]?.includes(marker), `${chunk} has ${marker}`)
    t.notOk(source.source.includes(marker), `the core has no ${marker}`)
  }
  // A loose bound: a chunk pulled into the core adds thousands of bytes. ctx's lazy getters
  // (RunContext, session 16) took the core from 29.7 to 30.1 KB; the run's fast paths for a
  // Response returned as it is and for empty env and params (session 23) to 31.4 KB; a spare
  // context's warm-up as a whole run (session 31) to 32.2 KB.
  t.ok(source.source.length < 33_000, `the core is small (${source.source.length} bytes)`)
})

t.test('a script loads only the chunks it uses, each compiled once per isolate', async (t) => {
  const hello = await tenantWith(t, 'chunks-hello')
  t.equal(text(await fetchIn(hello, `return new Response(request.url + ' ' + request.headers.get('x'))`)), 'http://chunks.test/a?b=c null')
  t.same(hello.loadedChunks, [], 'a handler that parses no URL and uses no crypto loads nothing')

  const url = await tenantWith(t, 'chunks-url')
  t.equal(text(await fetchIn(url, `return new Response(new URL(request.url).searchParams.get('b'))`)), 'c')
  t.same(url.loadedChunks, ['url-standard'], 'a common URL takes the fast path: no state machine')
  const address = await tenantWith(t, 'chunks-ipv4')
  t.equal(text(await fetchIn(address, `const u = new URL('http://127.0.0.1:8080/a?b=c'); return new Response(u.origin + ' ' + u.hostname)`)), 'http://127.0.0.1:8080 127.0.0.1')
  t.same(address.loadedChunks, ['url-standard'], 'a server reached by its IPv4 address: the fast path too')
  // A new version runs in a new context: the chunk runs there again, from the same compiled script.
  // A relative URL needs the state machine.
  t.equal(text(await fetchIn(url, `return new Response(new URL('x/y', request.url).pathname)`, 2)), '/x/y')
  t.same(url.loadedChunks, ['url-standard', 'url-parser'])

  const digest = await tenantWith(t, 'chunks-digest')
  const hex = await fetchIn(digest, `const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'))
    return new Response([...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, '0')).join(''))`)
  t.equal(text(hex), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.same(digest.loadedChunks.sort(), ['crypto', 'dom-exception', 'noble-hashes'], 'a digest draws no random bytes: no ChaCha')
})

t.test('chunks loaded separately share one DOMException, one event loop of runs, one run state', async (t) => {
  const tenant = await tenantWith(t, 'chunks-shared')
  const result = await fetchIn(tenant, `
    const errors = []
    try { crypto.getRandomValues(new Float32Array(1)) } catch (error) { errors.push(error) }
    if (!/^[0-9a-f-]{36}$/.test(crypto.randomUUID())) throw new Error('no UUID')
    try { structuredClone(() => {}) } catch (error) { errors.push(error) }
    errors.push(AbortSignal.abort().reason)
    const target = new EventTarget()
    target.addEventListener('ping', (event) => console.log('heard', event.type, event instanceof Event))
    target.dispatchEvent(new Event('ping'))
    return Response.json(errors.map((error) => [error.name, error instanceof DOMException, error.constructor === DOMException]))`)
  t.same(JSON.parse(text(result)), [['TypeMismatchError', true, true], ['DataCloneError', true, true], ['AbortError', true, true]])
  // The listener ran in the events chunk: its console line reached this run (the chunk reads the
  // core's live `current` run, not a copy taken when it loaded).
  t.same(result.logs.map((entry) => entry.message), ['heard ping true'])
  t.same(tenant.loadedChunks.sort(), ['abort', 'crypto', 'dom-exception', 'events', 'noble-chacha', 'structured-clone'])
})
