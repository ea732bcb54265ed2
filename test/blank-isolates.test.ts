import t, { type Test } from 'tap'
import { IsolateHost } from '../runner/thread/isolate-host.js'
import { TenantIsolate } from '../runner/thread/tenant-isolate.js'
import type { RunTask } from '../runner/protocol.js'
import { bodyText, fetchTask } from './helpers/programs.js'
import { bridge, platform } from './helpers/main-thread-isolates.js'
import { until } from './helpers/until.js'

// Isolates made ahead while the thread is idle (runner/thread/isolate-host.ts, TenantIsolate.ahead
// in runner/thread/tenant-isolate.ts), on the test process's main thread as a runner without
// worker threads holds them.

const HELLO = `export default { fetch() { return new Response('hello') } }`

function newHost(t: Test, options: { blankIsolates?: number; blankMemoryMb?: number } = {}): IsolateHost {
  const host = new IsolateHost({ platform, maxIsolates: 16, isolateIdleMs: 60_000, maxProgramsPerTenant: 4, ...options })
  t.teardown(() => host.shutdown())
  return host
}

const blanksMade = (host: IsolateHost, count: number): Promise<unknown> =>
  until(`${count} isolates made ahead`, async () => host.stats().blankIsolates, (made) => made === count)

/** A tenant's task whose isolate gets the heap limit `isolateMemoryMb`, as a tenant's quota gives it. */
function quotaTask(tenantId: string, source: string, isolateMemoryMb: number): RunTask {
  return { ...fetchTask(tenantId, source), isolateMemoryMb }
}

t.test("a new tenant's first run after an idle moment takes an isolate made ahead, answers as any cold run, and another is made once the thread is idle again", async (t) => {
  const host = newHost(t, { blankMemoryMb: 64 })
  await blanksMade(host, 2)
  const result = await host.run(quotaTask('blank-first', HELLO, 64))
  t.ok(result.ok, JSON.stringify(result.error))
  t.equal(result.ok && bodyText(result.response?.body), 'hello')
  t.equal(result.metrics.start, 'cold')
  t.equal(host.stats().blankStarts, 1, 'the cold start took an isolate made ahead')
  t.equal(host.stats().blankIsolates, 1, 'one left until the thread is idle')
  await blanksMade(host, 2)
  t.equal(host.stats().isolates, 1, 'the blank ones are not counted as tenant isolates')
})

t.test('none is made while runs are in flight: cold starts back to back make their own isolates', async (t) => {
  const host = newHost(t, { blankMemoryMb: 64, blankIsolates: 1 })
  await blanksMade(host, 1)
  // Started in one turn: the thread is never idle between them.
  const results = await Promise.all(['a', 'b', 'c'].map((name) => host.run(quotaTask(`blank-busy-${name}`, HELLO, 64))))
  for (const result of results) t.ok(result.ok && result.metrics.start === 'cold', JSON.stringify(result.error))
  t.equal(host.stats().blankStarts, 1, 'one took the only blank isolate; the others made theirs')
  t.equal(host.stats().isolates, 3)
})

t.test('blankIsolates 0 makes none', async (t) => {
  const host = newHost(t, { blankMemoryMb: 64, blankIsolates: 0 })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(host.stats().blankIsolates, 0)
  const result = await host.run(quotaTask('blank-none', HELLO, 64))
  t.ok(result.ok && result.metrics.start === 'cold')
  t.equal(host.stats().blankStarts, 0)
})

t.test("a tenant whose isolate needs another heap limit makes its own, and those made ahead for the given limit stay", async (t) => {
  const host = newHost(t, { blankMemoryMb: 64 })
  await blanksMade(host, 2)
  const larger = await host.run(quotaTask('blank-larger', HELLO, 128))
  t.ok(larger.ok, JSON.stringify(larger.error))
  t.equal(host.stats().blankStarts, 0, 'a 64 MB isolate is not given to a tenant whose quota is 128 MB')
  t.equal(host.stats().blankIsolates, 2, 'nor are they let go: the given limit is the usual one')
  t.ok((await host.run(quotaTask('blank-usual', HELLO, 64))).ok)
  t.equal(host.stats().blankStarts, 1, 'the next tenant of the usual quota took one')
})

t.test('without a limit given, none is made until a cold start says which limit tenants ask for, and they follow the last one', async (t) => {
  const host = newHost(t)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(host.stats().blankIsolates, 0)
  t.ok((await host.run(quotaTask('blank-learn-1', HELLO, 64))).ok)
  await blanksMade(host, 2)
  t.ok((await host.run(quotaTask('blank-learn-2', HELLO, 64))).ok)
  t.equal(host.stats().blankStarts, 1)
  t.ok((await host.run(quotaTask('blank-learn-3', HELLO, 128))).ok)
  t.equal(host.stats().blankStarts, 1, 'a 128 MB tenant made its own')
  await until('those made ahead follow the 128 MB limit', async () => host.run(quotaTask(`blank-learn-${Math.random()}`, HELLO, 128)), () => host.stats().blankStarts === 2)
  t.equal(host.stats().blankStarts, 2)
})

t.test('a tenant in an isolate made ahead is held to its heap limit', async (t) => {
  const host = newHost(t, { blankMemoryMb: 32 })
  await blanksMade(host, 2)
  // About 48 MB kept: over a 32 MB heap, within a 64 MB one.
  const grower = `export default { fetch() { const keep = []; for (let i = 0; i < 48; i++) keep.push(new Array(131072).fill(i)); return new Response('kept ' + keep.length) } }`
  const held = await host.run(quotaTask('blank-grower', grower, 32))
  t.equal(host.stats().blankStarts, 1, 'it took an isolate made ahead')
  t.notOk(held.ok)
  t.equal(held.error?.code, 'SCRIPT_MEMORY_LIMIT')
  const roomier = await host.run(quotaTask('blank-grower-64', grower, 64))
  t.equal(host.stats().blankStarts, 1, 'a 64 MB tenant made its own')
  t.equal(roomier.ok && bodyText(roomier.response?.body), 'kept 48', 'the same code fits a 64 MB heap')
})

t.test('two tenants that took isolates made ahead share nothing: each has its own', async (t) => {
  const host = newHost(t, { blankMemoryMb: 64 })
  await blanksMade(host, 2)
  const writer = `globalThis.left = 'tenant a'; Object.prototype.planted = true
export default { fetch() { return new Response(String(globalThis.left)) } }`
  const reader = `export default { fetch() { return new Response(typeof globalThis.left + ' ' + typeof ({}).planted) } }`
  // In one turn, so the second takes the other blank rather than one made after the first.
  const [a, b] = await Promise.all([host.run(quotaTask('blank-a', writer, 64)), host.run(quotaTask('blank-b', reader, 64))])
  t.equal(host.stats().blankStarts, 2, 'both took one')
  t.equal(a.ok && bodyText(a.response?.body), 'tenant a')
  t.equal(b.ok && bodyText(b.response?.body), 'undefined undefined', "nothing of tenant a's in tenant b's isolate")
})

t.test("a tenant in an isolate made ahead makes host calls as itself: its platform, booted before the tenant was known, answers for that tenant's runs", async (t) => {
  const host = newHost(t, { blankMemoryMb: 64 })
  await blanksMade(host, 2)
  // setTimeout is a host call (timers.sleep), answered only for a run of the context's tenant.
  const sleeper = `export default { async fetch() { await new Promise((resolve) => setTimeout(resolve, 5)); return new Response('slept') } }`
  const result = await host.run(quotaTask('blank-sleeper', sleeper, 64))
  t.equal(host.stats().blankStarts, 1)
  t.equal(result.ok && bodyText(result.response?.body), 'slept', JSON.stringify(result.error))
})

t.test('an isolate made ahead has no tenant until one takes it, and is taken once', async (t) => {
  const made = TenantIsolate.ahead({ memoryMb: 64, platform, bridge, maxPrograms: 4 })
  t.teardown(() => made.retire())
  t.ok(made.unowned)
  t.throws(() => made.tenantId, /no tenant/)
  made.adopt('ahead-a')
  t.notOk(made.unowned)
  t.equal(made.tenantId, 'ahead-a')
  t.throws(() => made.adopt('ahead-b'), /ahead-a's already/, 'a second tenant cannot take it')
  t.equal(made.tenantId, 'ahead-a')
})

t.test('closing the host disposes those made ahead and makes no more', async (t) => {
  const host = new IsolateHost({ platform, maxIsolates: 4, isolateIdleMs: 60_000, maxProgramsPerTenant: 4, blankMemoryMb: 64 })
  await blanksMade(host, 2)
  await host.shutdown()
  t.equal(host.stats().blankIsolates, 0)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(host.stats().blankIsolates, 0, 'none made after')
})
