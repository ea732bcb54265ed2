import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { rank } from '../runner/index.js'
import { api, call, deploy, startTestIsogate } from './helpers/isogate.js'
import { metricTotal } from './helpers/metrics.js'

// ISOGATE_WORKERS=0: each runner process enters its tenants' isolates on its own thread, with no
// worker threads (runner/process/inline-pool.ts). The whole way, on real sockets and real runners:
// runs, host calls over the runner's host-call socket, limits, a new version.

const CACHE = `export default {
  async fetch(request, env, ctx) {
    if (request.method === 'POST') {
      await ctx.cache.set('k', await request.json(), { ttlSeconds: 60 })
      return Response.json({ stored: true })
    }
    return Response.json({ value: await ctx.cache.get('k'), version: 1 })
  },
}`

t.test('runner processes without worker threads', async (t) => {
  const isogate = await startTestIsogate(t, { workers: 0 })
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()

  t.test('they serve runs, and say they have no worker threads', async (t) => {
    await deploy(isogate, 'inline-hello', '/hello', `export default { fetch(request) { return new Response('hello ' + new URL(request.url).searchParams.get('n')) } }`)
    for (let n = 0; n < 20; n++) t.equal(await (await call(isogate, `/inline-hello/hello?n=${n}`)).text(), `hello ${n}`)
    const text = await metrics()
    t.match(text, /^isogate_runner_worker_threads\{runner="0"\} 0$/m)
    t.ok(metricTotal(text, 'isogate_runner_thread_steps_total') > 0, "hot runs took their first step synchronously, on the runner's own thread")
    t.equal(metricTotal(text, 'isogate_runner_run_batches_total'), 0, 'no run crossed to a worker thread')
  })

  t.test("host calls go over the runner's host-call socket: ctx.cache per tenant", async (t) => {
    await deploy(isogate, 'inline-cache-a', '/c', CACHE)
    await deploy(isogate, 'inline-cache-b', '/c', CACHE)
    const stored = await call(isogate, '/inline-cache-a/c', { method: 'POST', body: JSON.stringify({ n: 7 }) })
    t.same(await stored.json(), { stored: true })
    t.same(await (await call(isogate, '/inline-cache-a/c')).json(), { value: { n: 7 }, version: 1 })
    t.same(await (await call(isogate, '/inline-cache-b/c')).json(), { value: null, version: 1 }, 'another tenant sees nothing')
  })

  t.test("a run over its CPU limit ends alone, and the runner's next runs are served", async (t) => {
    await deploy(isogate, 'inline-spin', '/spin', `export default { fetch() { for (;;) {} } }`, { limits: { cpuMs: 50, timeoutMs: 2000 } })
    const spun = await call(isogate, '/inline-spin/spin')
    t.match(await spun.json(), { error: { code: /^SCRIPT_(CPU_LIMIT|TIMEOUT)$/ } })
    t.ok(spun.status >= 500, `a server-side refusal (${spun.status})`)
    t.equal(await (await call(isogate, '/inline-hello/hello?n=after')).text(), 'hello after')
  })

  t.test('a run over its memory limit ends alone, and the tenant is served again in a new isolate', async (t) => {
    await deploy(isogate, 'inline-memory', '/m', `export default { fetch(request) {
      if (new URL(request.url).searchParams.has('grow')) { const kept = []; for (;;) kept.push(new Array(100000).fill(kept.length)) }
      return new Response('small')
    } }`, { limits: { memoryMb: 16 } })
    const grown = await call(isogate, '/inline-memory/m?grow')
    t.match(await grown.json(), { error: { code: 'SCRIPT_MEMORY_LIMIT' } })
    t.equal(await (await call(isogate, '/inline-memory/m')).text(), 'small')
    t.equal(await (await call(isogate, '/inline-hello/hello?n=still')).text(), 'hello still')
  })

  t.test('a new version replaces the old one in the live isolate', async (t) => {
    const created = await deploy(isogate, 'inline-versions', '/v', `export default { fetch() { return new Response('one') } }`)
    t.equal(await (await call(isogate, '/inline-versions/v')).text(), 'one')
    const updated = await api(isogate, 'PATCH', `/api/v1/scripts/${created.id}`, { tenant: 'inline-versions', body: { source: `export default { fetch() { return new Response('two') } }` } })
    t.equal(updated.status, 200, JSON.stringify(updated.body))
    let body = ''
    for (let i = 0; i < 100 && body !== 'two'; i++) {
      body = await (await call(isogate, '/inline-versions/v')).text()
      if (body !== 'two') await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.equal(body, 'two')
  })
})

/** Short runs (they earn synchronous first steps) until one is asked to spin SPIN_MS in its step. */
const SPIN_MS = 1500
const SUDDEN = `export default { fetch(request) {
  if (new URL(request.url).searchParams.has('spin')) { const end = Date.now() + ${SPIN_MS}; while (Date.now() < end); }
  return new Response('done')
} }`

t.test("a synchronous step that holds a runner without worker threads: its neighbours' runs move to another runner", async (t) => {
  const isogate = await startTestIsogate(t, { workers: 0, runners: 2 })
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()
  const spinner = await deploy(isogate, 'held-spinner', '/s', SUDDEN, { limits: { cpuMs: 4 * SPIN_MS, timeoutMs: 5 * SPIN_MS } })
  const home = rank(spinner.tenantId, 2)[0]
  // Tenant ids are generated: deploy victims until one shares the spinner's runner.
  let victim: string | null = null
  for (let i = 0; i < 20 && victim === null; i++) {
    const script = await deploy(isogate, `held-victim-${i}`, '/hello', `export default { fetch() { return new Response('hello') } }`)
    if (rank(script.tenantId, 2)[0] === home) victim = `held-victim-${i}`
  }
  if (victim === null) throw new Error("no victim on the spinner's runner")
  // A cold run, then enough hot ones to earn synchronous first steps (runner/thread/step-costs.ts).
  for (let i = 0; i < 12; i++) t.equal(await (await call(isogate, '/held-spinner/s')).text(), 'done')
  for (let i = 0; i < 3; i++) t.equal(await (await call(isogate, `/${victim}/hello`)).text(), 'hello')
  const steps = (text: string): number => metricTotal(text, 'isogate_runner_thread_steps_total') + metricTotal(text, 'isogate_runner_pool_steps_total')
  const before = steps(await metrics())

  // The victim under load (20 connections, each sending its next request on the last's answer) from
  // before the spin until well into it. Its runs reach the runner in the same reads as the spin's
  // run, before or after it: those before are answered before its step starts
  // (runner/process/tenant-turns.ts), those after are not started. The runs sent in the ~20 ms
  // until the runner's watcher reports the hold are taken back and run on the other runner, and
  // the later ones go there at once.
  const victims: Array<{ status: number; body: string; ms: number }> = []
  const loadUntil = performance.now() + 600
  const victimLoad = Array.from({ length: 20 }, async () => {
    while (performance.now() < loadUntil) {
      const sent = performance.now()
      const response = await call(isogate, `/${victim}/hello`)
      victims.push({ status: response.status, body: await response.text(), ms: performance.now() - sent })
    }
  })
  await delay(100)
  const spinStarted = performance.now()
  const spun = call(isogate, '/held-spinner/s?spin').then(async (response) => ({ body: await response.text(), ms: performance.now() - spinStarted }))
  await Promise.all(victimLoad)
  const answered = victims
  const slowest = Math.max(...answered.map((answer) => answer.ms))
  t.same(new Set(answered.map((answer) => `${answer.status} ${answer.body}`)), new Set(['200 hello']), 'every victim run was served')
  t.ok(slowest < SPIN_MS / 2, `no victim waited for the spin: the slowest took ${slowest.toFixed(0)} ms of its ${SPIN_MS}`)
  const { body, ms } = await spun
  t.equal(body, 'done', 'the spinning run was not ended: it was within its limits')
  t.ok(ms >= SPIN_MS, `it spun its ${SPIN_MS} ms (${ms.toFixed(0)})`)

  const text = await metrics()
  t.ok(metricTotal(text, 'isogate_runner_moved_runs_total') >= 1, 'runs the held runner had not started were taken back and ran on the other runner')
  t.equal(steps(text) - before, victims.length + 1, 'each run started once: none both on the held runner and on the other')
  // Fenced: the victim is served at home again.
  t.equal(await (await call(isogate, `/${victim}/hello`)).text(), 'hello')
})
