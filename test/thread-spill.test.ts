import { performance } from 'node:perf_hooks'
import t from 'tap'
import { IsolatePool } from '../runner/index.js'
import { bodyText, fetchTask, tenantOnThread } from './helpers/programs.js'

const SLOW = `export default { async fetch() { await new Promise((resolve) => setTimeout(resolve, 400)); return new Response('slow') } }`
const HELLO = `export default { fetch() { return new Response('hello') } }`

/** Tenants whose home is thread 0 of a two-thread pool. */
function homedOnThreadZero(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => tenantOnThread(0, `${prefix}${i}`))
}

t.test('a tenant with a run or two on a busy home thread stays there: its neighbours made the thread busy, not it', async (t) => {
  const pool = new IsolatePool({ threads: 2, spillThreshold: 8 })
  t.teardown(() => pool.close())
  const tenants = homedOnThreadZero(8, 'quiet')
  for (const tenant of tenants) t.equal(bodyText((await pool.run(fetchTask(tenant, HELLO))).response?.body), 'hello')
  // Eight tenants, one slow run each: the home thread has the spill threshold's runs in flight.
  const first = tenants.map((tenant) => pool.run(fetchTask(tenant, SLOW)))
  // Each sends one more while the thread is that busy.
  const second = tenants.map((tenant) => pool.run(fetchTask(tenant, SLOW)))
  for (const result of await Promise.all([...first, ...second])) t.equal(bodyText(result.response?.body), 'slow')
  t.equal((await pool.stats()).isolates, 8, 'no tenant got a second isolate on the other thread')
})

t.test('a tenant whose long runs fill its home thread spills to its second thread', async (t) => {
  const pool = new IsolatePool({ threads: 2, spillThreshold: 8 })
  t.teardown(() => pool.close())
  const [busy] = homedOnThreadZero(1, 'busy') as [string]
  t.equal(bodyText((await pool.run(fetchTask(busy, HELLO))).response?.body), 'hello')
  // Its runs have been long lately (400 ms each, waiting on a timer)...
  for (const result of await Promise.all(Array.from({ length: 8 }, () => pool.run(fetchTask(busy, SLOW))))) t.equal(bodyText(result.response?.body), 'slow')
  t.equal((await pool.stats()).isolates, 1, 'eight runs, the threshold, stay on the home thread')
  // ...so past the threshold its next ones would wait there: they go to the second thread.
  const runs = Array.from({ length: 12 }, () => pool.run(fetchTask(busy, SLOW)))
  for (const result of await Promise.all(runs)) t.equal(bodyText(result.response?.body), 'slow')
  t.equal((await pool.stats()).isolates, 2, 'its runs past the threshold went to its second thread, in an isolate there')
})

t.test('a tenant whose runs keep its isolate busy spills to its second thread', async (t) => {
  const pool = new IsolatePool({ threads: 2, spillThreshold: 8 })
  t.teardown(() => pool.close())
  const [busy] = homedOnThreadZero(1, 'spinning') as [string]
  // 20 ms of CPU a run, twelve in flight for a second: its isolate, one core at a time, is never idle.
  const SPINS = `export default { fetch() { const end = Date.now() + 20; while (Date.now() < end); return new Response('spun') } }`
  const until = performance.now() + 1000
  await Promise.all(Array.from({ length: 12 }, async () => {
    while (performance.now() < until) t.equal(bodyText((await pool.run(fetchTask(busy, SPINS, {}, { cpuMs: 1000, timeoutMs: 5000 }))).response?.body), 'spun')
  }))
  t.equal((await pool.stats()).isolates, 2, 'its runs went to its second thread too, in an isolate there')
})

t.test('a tenant whose quick runs wait only for its home thread\'s next answers stays there, however many', async (t) => {
  const pool = new IsolatePool({ threads: 2, spillThreshold: 8 })
  t.teardown(() => pool.close())
  const [quick] = homedOnThreadZero(1, 'quick') as [string]
  // Warm: its runs take a fraction of a millisecond each.
  for (let i = 0; i < 30; i++) t.equal(bodyText((await pool.run(fetchTask(quick, HELLO))).response?.body), 'hello')
  // Forty at once: five times the threshold, more than the thread's slots. Before, every run past
  // the threshold spilled: a second isolate, and messages to two threads, for runs a few ms apart.
  const runs = await Promise.all(Array.from({ length: 40 }, () => pool.run(fetchTask(quick, HELLO))))
  for (const result of runs) t.equal(bodyText(result.response?.body), 'hello')
  t.equal((await pool.stats()).isolates, 1, 'no second isolate: the home thread had the time')
})
