import t from 'tap'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { HostCallListener } from '../runner/supervisor/host-call-listener.js'
import { HostCallSocket } from '../runner/thread/host-call-socket.js'
import { NearAnswer, RunnerSupervisor, type HostCallHandler, type NearDrop, type RunResult } from '../runner/index.js'
import { NearCache } from '../runner/thread/near-cache.js'
import { TenantCache } from '../src/host/tenant-cache.js'
import { bodyText, fetchTask } from './helpers/programs.js'
import { tempFolder } from './helpers/temp.js'

// Near copies (runner/near-copies.ts): a worker thread keeps ctx.cache.get answers and answers
// again itself, coherent with every change the gateway's cache makes. These run real runner
// processes against a real TenantCache, and count the reads that reach the gateway.

const KV = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    const op = url.searchParams.get('op')
    const key = url.searchParams.get('key') ?? 'k'
    const value = url.searchParams.get('value')
    if (op === 'set') {
      await ctx.cache.set(key, value, { ttlSeconds: Number(url.searchParams.get('ttl') ?? 60) })
      return new Response('ok')
    }
    if (op === 'reads') {
      const seen = []
      for (let i = 0; i < Number(url.searchParams.get('n')); i++) seen.push(await ctx.cache.get(key))
      return Response.json(seen)
    }
    if (op === 'race') {
      const [before] = await Promise.all([ctx.cache.get(key), ctx.cache.set(key, value)])
      return Response.json({ before, after: await ctx.cache.get(key) })
    }
    if (op === 'poll') {
      const until = Date.now() + 5000
      let reads = 0
      while (Date.now() < until) {
        reads++
        if ((await ctx.cache.get(key)) === value) return Response.json({ saw: value, reads })
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
      return Response.json({ saw: null, reads })
    }
    return Response.json(await ctx.cache.get(key))
  },
}`

const cache = new TenantCache({ maxBytesPerTenant: 4096, maxValueBytes: 1024 })
/** Reads that reached the gateway, by tenant. */
const reads = new Map<string, number>()
const handler: HostCallHandler = async ({ tenantId, name, args }) => {
  if (name === 'cache.get') {
    reads.set(tenantId, (reads.get(tenantId) ?? 0) + 1)
    const read = cache.near(tenantId, args[0])
    return new NearAnswer(read.value, read.version, read.ttlMs, read.bytes)
  }
  if (name === 'cache.set') {
    cache.set(tenantId, args[0], args[1], args[2] as { ttlSeconds?: number })
    return true
  }
  if (name === 'cache.delete') return cache.delete(tenantId, args[0])
  throw new Error(`no ${name}`)
}
const supervisor = new RunnerSupervisor({
  runners: 2,
  standby: 0,
  pool: { threads: 2, remoteHostApis: [{ name: 'cache.get', expose: true, near: true }, { name: 'cache.set', expose: true }, { name: 'cache.delete', expose: true }] },
  hostCalls: handler,
  near: cache,
})
t.teardown(() => supervisor.close())

async function kv(tenantId: string, query: string, limits = {}): Promise<unknown> {
  const result: RunResult = await supervisor.run(fetchTask(tenantId, KV, { url: `http://example.test/?${query}` }, { timeoutMs: 10_000, cpuMs: 5_000, apiCalls: 5_000, ...limits }))
  if (!result.ok) throw new Error(`run failed: ${JSON.stringify(result.error)}`)
  const text = bodyText(result.response?.body)
  return text === 'ok' ? text : JSON.parse(text)
}

t.before(() => supervisor.ready())

t.test("a run's repeated ctx.cache.get of one key reaches the gateway once; the thread answers the rest", async (t) => {
  await kv('near-a', 'op=set&value=one')
  reads.delete('near-a')
  t.same(await kv('near-a', 'op=reads&n=50'), Array(50).fill('one'))
  t.ok((reads.get('near-a') ?? 0) <= 2, `${reads.get('near-a')} of 50 reads reached the gateway`)
  const before = await supervisor.stats()
  t.same(await kv('near-a', 'op=reads&n=50'), Array(50).fill('one'), 'the next run reads the kept answer too')
  t.ok((reads.get('near-a') ?? 0) <= 3, `${reads.get('near-a')} of 100 reads reached the gateway`)
  const after = await supervisor.stats()
  const entries = after.threadAnswers + after.poolAnswers - before.threadAnswers - before.poolAnswers
  t.ok(entries <= 2, `a kept answer settles within the step that asked: ${entries} answers entered the isolate for 50 reads`)
  t.ok(after.keptAnswers - before.keptAnswers >= 48, `${after.keptAnswers - before.keptAnswers} kept answers counted (isogate_runner_cache_kept_answers_total)`)
})

t.test('a set by a run is read by every run after it, and a missing key is kept as missing until it is set', async (t) => {
  t.same(await kv('near-b', 'op=reads&n=3'), [null, null, null])
  for (let n = 1; n <= 20; n++) {
    t.equal(await kv('near-b', `op=set&value=v${n}`), 'ok')
    t.equal(await kv('near-b', ''), `v${n}`, `round ${n}: the run after the set reads it`)
  }
})

t.test("a change made at the gateway (another runner's run, the control plane) is read by the next run, and reaches a run already reading", async (t) => {
  await kv('near-c', 'op=set&value=before')
  t.same(await kv('near-c', 'op=reads&n=5'), Array(5).fill('before'))
  cache.set('near-c', 'k', 'changed')
  t.equal(await kv('near-c', ''), 'changed', 'the run sent after the change')

  // A run polling its kept answer sees a change made while it runs: the drop reaches its thread.
  const polling = kv('near-c', 'op=poll&value=later')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const before = reads.get('near-c') ?? 0
  cache.set('near-c', 'k', 'later')
  const { saw, reads: polled } = (await polling) as { saw: string | null; reads: number }
  t.equal(saw, 'later', 'the running run read the change')
  t.ok(polled > 10, `it polled ${polled} times`)
  t.ok((reads.get('near-c') ?? 0) - before <= 3, 'its reads were answered by its thread, not the gateway')
})

t.test('a get and a set of one key at once, then a get: the run reads its own write', async (t) => {
  for (let n = 1; n <= 30; n++) {
    const { after } = (await kv(`near-race-${n}`, `op=race&value=w${n}`)) as { after: string }
    t.equal(after, `w${n}`, `round ${n}`)
  }
})

t.test('tenants never read each other\'s kept answers', async (t) => {
  await kv('near-d1', 'op=set&value=d1')
  await kv('near-d2', 'op=set&value=d2')
  t.same(await kv('near-d1', 'op=reads&n=3'), ['d1', 'd1', 'd1'])
  t.same(await kv('near-d2', 'op=reads&n=3'), ['d2', 'd2', 'd2'])
  t.same(await kv('near-d3', 'op=reads&n=3'), [null, null, null])
})

t.test('kept answers go with the entry: deleted, expired, pushed out for room, or the tenant forgotten', async (t) => {
  await kv('near-e', 'op=set&value=x')
  t.equal(await kv('near-e', ''), 'x')
  cache.delete('near-e', 'k')
  t.equal(await kv('near-e', ''), null, 'deleted')

  await kv('near-e', 'op=set&value=short&ttl=1')
  t.equal(await kv('near-e', ''), 'short')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal(await kv('near-e', ''), null, 'expired')

  await kv('near-e', 'op=set&value=first')
  t.equal(await kv('near-e', ''), 'first')
  // 4096 bytes for the tenant: five 1000-byte values push the first out.
  for (const key of ['f1', 'f2', 'f3', 'f4', 'f5']) cache.set('near-e', key, 'y'.repeat(1000))
  t.equal(await kv('near-e', ''), null, 'pushed out')

  await kv('near-e', 'op=set&value=kept')
  t.equal(await kv('near-e', ''), 'kept')
  cache.forget('near-e')
  t.equal(await kv('near-e', ''), null, 'forgotten')
})

t.test("a key read only from copies stays used at the gateway: filling the tenant's budget pushes other keys out first", async (t) => {
  await kv('near-g', 'op=set&key=hot&value=h')
  t.same(await kv('near-g', 'op=reads&key=hot&n=3'), ['h', 'h', 'h'])
  // 4096 bytes for the tenant; five values of about 900 bytes, set one at a time while runs read
  // the hot key from their copies (each thread tells the gateway every 500 ms).
  for (let i = 0; i < 5; i++) {
    t.same(await kv('near-g', 'op=reads&key=hot&n=3'), ['h', 'h', 'h'])
    await new Promise((resolve) => setTimeout(resolve, 700))
    cache.set('near-g', `filler-${i}`, 'y'.repeat(900))
  }
  t.equal(cache.near('near-g', 'hot').value, 'h', 'the hot key is still at the gateway')
  t.equal(cache.near('near-g', 'filler-0').value, null, 'the oldest filler went instead')
})

t.test("a kept answer still counts against the run's API-call limit", async (t) => {
  await kv('near-f', 'op=set&value=z')
  const result = await supervisor.run(fetchTask('near-f', KV, { url: 'http://example.test/?op=reads&n=30' }, { apiCalls: 10 }))
  t.equal(result.ok, false)
  t.equal(result.error?.code, 'SCRIPT_API_CALL_LIMIT')
})

t.test('TenantCache ticks its clock on every change, tells each one, and gives each tenant the version of its last change', async (t) => {
  const local = new TenantCache({ maxBytesPerTenant: 100, maxValueBytes: 50, maxTenants: 2 })
  const drops: NearDrop[] = []
  local.onDrop((drop) => drops.push(drop))
  t.equal(local.versionOf('a'), 0)
  local.set('a', 'k', 1)
  t.same(drops, [['a', 'k', 1]])
  t.equal(local.versionOf('a'), 1)
  t.equal(local.versionOf('b'), 0, 'another tenant is untouched')
  t.same(local.near('a', 'k'), { value: 1, version: 1, ttlMs: 60_000, bytes: local.bytes('a') - 1 })
  t.equal(local.delete('a', 'missing'), false)
  t.equal(drops.length, 1, 'deleting nothing changes nothing')
  local.delete('a', 'k')
  t.same(drops.at(-1), ['a', 'k', 2])
  // 100 bytes for the tenant: the third value of about 45 bytes pushes the first out.
  for (const key of ['big1', 'big2', 'big3']) local.set('a', key, 'x'.repeat(40))
  t.same(drops.slice(-4).map(([, key]) => key), ['big1', 'big2', 'big1', 'big3'], 'the entry pushed out for room is told as well')
  local.set('b', 'k', 1)
  local.set('c', 'k', 1)
  t.same(drops.at(-2), ['a', null, local.clock() - 1], 'the tenant pushed out of the cache goes whole')
  t.ok(local.versionOf('a') >= local.clock() - 1, 'and its version does not go back')
})

t.test('NearCache: a kept answer serves a run only once the socket has brought its version, and an answer overtaken by a drop is not kept', async (t) => {
  const near = new NearCache(1024)
  const answer = (clock: number, value: unknown) => (keep: (value: unknown, terms: { clock: number; ttlMs: number; bytes: number }) => void) => {
    keep(value, { clock, ttlMs: 60_000, bytes: 10 })
    return Promise.resolve(value)
  }
  await near.read('t', 'k', answer(5, 'v5'))
  t.same(near.get('t', 'k', 5), { value: 'v5', tenantId: 't', expires: near.get('t', 'k', 5)?.['expires' as never], bytes: 10 })
  t.equal(near.get('t', 'k', 6), undefined, 'a run sent after a change the socket has not brought asks the gateway')
  t.equal(near.get('t', 'k', -1), undefined, 'a run with no version keeps nothing')
  near.drop(['other', 'x', 6])
  t.ok(near.get('t', 'k', 6), 'once the clock is in, the copy serves')
  near.drop(['t', 'k', 7])
  t.equal(near.get('t', 'k', 7), undefined, 'dropped')

  // A drop of the tenant that arrives while the read is out, past the answer's clock: not kept.
  let release!: () => void
  const pending = near.read('t', 'k', (keep) => new Promise((resolve) => { release = () => { keep('stale', { clock: 8, ttlMs: 60_000, bytes: 10 }); resolve('stale') } }))
  near.drop(['t', 'k', 9])
  release()
  t.equal(await pending, 'stale', 'the read itself is answered')
  t.equal(near.get('t', 'k', 9), undefined, 'but not kept')

  await near.read('t', 'k', answer(10, 'v10'))
  t.ok(near.get('t', 'k', 10))
  near.drop(['t', null, 11])
  t.equal(near.get('t', 'k', 11), undefined, 'the tenant dropped whole')
  await near.read('t', 'k', answer(12, 'v12'))
  near.clear()
  t.equal(near.size, 0, 'a closed socket leaves nothing kept')
})

t.test("a read through a thread's socket keeps the gateway's answer for the next read to take at once (the platform's synchronous peek); one whose tenant changed meanwhile is not kept", async (t) => {
  const folder = tempFolder(t, 'isogate-near-')
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  const local = new TenantCache()
  local.set('a', 'k', 'v')
  /** A thread's socket to a listener answering cache.get from `local`; `after` runs between the read and the answer. */
  const connect = (name: string, after: (tenantId: string) => void = () => undefined): HostCallSocket => {
    const reader: HostCallHandler = async ({ tenantId, args }) => {
      const near = local.near(tenantId, args[0])
      after(tenantId)
      return new NearAnswer(near.value, near.version, near.ttlMs, near.bytes)
    }
    const server = new HostCallListener({ path: path.join(folder, `${name}.sock.host`), handler: reader, admit: () => null, near: local })
    const socket = new HostCallSocket(server.path)
    t.teardown(() => {
      socket.close()
      server.close()
    })
    return socket
  }
  const socket = connect('near')
  const handlerOf = (near: number) => ({ signal: new AbortController().signal, onCancel: () => () => undefined, near })
  t.equal(await socket.read({ tenantId: 'a', name: 'cache.get', args: ['k'] }, handlerOf(local.versionOf('a'))), 'v')
  t.equal(socket.near.size, 1, 'kept')
  t.equal(socket.near.get('a', 'k', local.versionOf('a'))?.value, 'v', 'what the peek answers the next read with')

  // A read whose tenant changed between the read and the answer is answered, not offered to be kept.
  local.set('b', 'k', 'old')
  const raced = connect('race', (tenantId) => local.set(tenantId, 'k', 'new'))
  t.equal(await raced.read({ tenantId: 'b', name: 'cache.get', args: ['k'] }, handlerOf(local.versionOf('b'))), 'old')
  t.equal(raced.near.size, 0, 'nothing kept')
})
