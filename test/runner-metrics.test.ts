import t from 'tap'
import type { Isogate } from '../src/app.js'
import { childPids } from './helpers/processes.js'
import { call, deploy, startTestIsogate } from './helpers/isogate.js'
import { metricTotal } from './helpers/metrics.js'
import { until } from './helpers/until.js'

const HELLO = `export default { fetch() { return new Response('hello') } }`

// One two-runner gateway for the first test and the last (which stops its runners, so it comes
// last): a gateway's start is most of what each of them costs.
let twoRunners: Isogate
t.before(async () => {
  twoRunners = await startTestIsogate(t, { runners: 2 })
})

t.test('after runs of two tenants, /metrics shows isolate and compile-cache misses then hits, and the live isolates', async (t) => {
  const isogate = twoRunners
  await deploy(isogate, 'metrics-a', '/hello', HELLO)
  await deploy(isogate, 'metrics-b', '/hello', HELLO)
  const metrics = async (): Promise<string> => {
    const response = await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)
    t.equal(response.status, 200)
    return response.text()
  }
  const before = await metrics()
  t.equal(metricTotal(before, 'isogate_runner_isolate_misses_total'), 0)
  t.equal(metricTotal(before, 'isogate_runner_up'), 2, 'both runners answered')

  for (const tenant of ['metrics-a', 'metrics-b']) {
    t.equal((await call(isogate, `/${tenant}/hello`)).status, 200)
  }
  const cold = await metrics()
  t.equal(metricTotal(cold, 'isogate_runner_isolate_misses_total'), 2)
  t.equal(metricTotal(cold, 'isogate_runner_compile_cache_misses_total'), 2)
  t.equal(metricTotal(cold, 'isogate_runner_isolate_hits_total'), 0)
  t.equal(metricTotal(cold, 'isogate_runner_compile_cache_hits_total'), 0)

  for (let i = 0; i < 3; i++) {
    for (const tenant of ['metrics-a', 'metrics-b']) t.equal((await call(isogate, `/${tenant}/hello`)).status, 200)
  }
  const hot = await metrics()
  t.equal(metricTotal(hot, 'isogate_runner_isolate_misses_total'), 2, 'no new isolate')
  t.equal(metricTotal(hot, 'isogate_runner_compile_cache_misses_total'), 2, 'no new compile')
  t.equal(metricTotal(hot, 'isogate_runner_isolate_hits_total'), 6)
  t.equal(metricTotal(hot, 'isogate_runner_compile_cache_hits_total'), 6)
  t.equal(metricTotal(hot, 'isogate_runner_isolates'), 2)
  t.equal(metricTotal(hot, 'isogate_runner_thread_crashes_total'), 0)
  t.equal(metricTotal(hot, 'isogate_runner_moved_runs_total'), 0, 'no thread was held: no run moved')
  t.match(hot, /^isogate_runner_cache_kept_answers_total\{runner="[01]"\} 0$/m, 'no ctx.cache.get: nothing answered from kept answers')
  t.match(hot, /^isogate_runner_moved_runs_total\{runner="[01]"\} 0$/m)
  t.match(hot, /^isogate_runner_cpu_held_runs_total\{runner="[01]"\} \d+$/m, 'runs held back for their CPU share, by runner')
  // A new program's first runs go to the pool until they have earned the thread (step-costs.ts).
  t.equal(metricTotal(hot, 'isogate_runner_thread_steps_total') + metricTotal(hot, 'isogate_runner_pool_steps_total'), 8, 'every run counted once, on the thread or on the pool')
  t.match(hot, /^isogate_runner_isolate_hits_total\{runner="[01]"\} \d+$/m, 'labelled by runner')
})

t.test("runners make isolates ahead with the tenants' quota while idle, and a new tenant's first run takes one", async (t) => {
  const isogate = twoRunners
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()
  const made = await until('two isolates made ahead in each runner', metrics, (text) => metricTotal(text, 'isogate_runner_blank_isolates') === 4)
  t.match(made, /^isogate_runner_blank_isolates\{runner="0"\} 2$/m, 'labelled by runner')
  const before = metricTotal(made, 'isogate_runner_blank_isolate_starts_total')
  const misses = metricTotal(made, 'isogate_runner_isolate_misses_total')
  // Its platform was booted before any tenant was known: its host calls are this tenant's all the same.
  const cached = `export default { async fetch(request, env, ctx) {
  const seen = await ctx.cache.get('mine')
  await ctx.cache.set('mine', 'blank tenant')
  return new Response(String(seen))
} }`
  await deploy(isogate, 'metrics-blank', '/hello', cached)
  const first = await call(isogate, '/metrics-blank/hello')
  t.equal(first.status, 200)
  t.equal(await first.text(), 'null', 'nothing cached before its first run')
  const after = await metrics()
  t.equal(metricTotal(after, 'isogate_runner_isolate_misses_total'), misses + 1, 'a cold start')
  // The tenant's isolate has its quota's heap limit (the default, 256 MB): the one made ahead had it too.
  t.equal(metricTotal(after, 'isogate_runner_blank_isolate_starts_total'), before + 1, 'which took an isolate made ahead')
  t.equal(await (await call(isogate, '/metrics-blank/hello')).text(), 'blank tenant', 'its own cache entry, read back')
  await deploy(isogate, 'metrics-blank-other', '/hello', cached)
  t.equal(await (await call(isogate, '/metrics-blank-other/hello')).text(), 'null', 'another tenant does not see it')
})

t.test('ISOGATE_ISOLATES_PER_WORKER and ISOGATE_ISOLATE_IDLE_MS reach the runner processes: the cap evicts, idle isolates go', async (t) => {
  const isogate = await startTestIsogate(t, { runners: 1, workers: 1, isolatesPerWorker: 2, isolateIdleMs: 1500 })
  const isolates = async (): Promise<number> => metricTotal(await (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text(), 'isogate_runner_isolates')
  for (const tenant of ['cap-a', 'cap-b', 'cap-c']) {
    await deploy(isogate, tenant, '/hello', HELLO)
    t.equal((await call(isogate, `/${tenant}/hello`)).status, 200)
  }
  t.equal(await isolates(), 2, 'three tenants on one worker thread, two isolates kept')
  const deadline = Date.now() + 10_000
  while ((await isolates()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await isolates(), 0, 'disposed once idle')
  t.equal((await call(isogate, '/cap-a/hello')).status, 200, 'and a tenant whose isolate went is served again')
})

t.test('a runner that does not answer cannot hang /metrics: it is reported down within the scrape timeout', async (t) => {
  const isogate = twoRunners
  const runners = childPids()
  t.ok(runners.length >= 2, `runner processes: ${runners.join(', ')}`)
  // A stopped process holds its socket open and answers nothing: the worst case for a scrape.
  for (const pid of runners) process.kill(pid, 'SIGSTOP')
  try {
    const started = performance.now()
    const response = await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)
    const text = await response.text()
    const elapsed = performance.now() - started
    t.equal(response.status, 200)
    t.ok(elapsed < 5000, `answered in ${Math.round(elapsed)} ms`)
    t.equal(metricTotal(text, 'isogate_runner_up'), 0, 'both runners reported down')
    t.match(text, /^isogate_runner_up\{runner="0"\} 0$/m)
    t.notMatch(text, /^isogate_runner_isolate_hits_total\{/m, 'no stale series of a runner that did not answer')
  } finally {
    for (const pid of runners) process.kill(pid, 'SIGCONT')
  }
  const again = await (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()
  t.equal(metricTotal(again, 'isogate_runner_up'), 2, 'up again once they answer')
})
