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

t.test('a tenant that fills its busy home thread itself spills to its second thread', async (t) => {
  const pool = new IsolatePool({ threads: 2, spillThreshold: 8 })
  t.teardown(() => pool.close())
  const [busy] = homedOnThreadZero(1, 'busy') as [string]
  t.equal(bodyText((await pool.run(fetchTask(busy, HELLO))).response?.body), 'hello')
  const runs = Array.from({ length: 12 }, () => pool.run(fetchTask(busy, SLOW)))
  for (const result of await Promise.all(runs)) t.equal(bodyText(result.response?.body), 'slow')
  t.equal((await pool.stats()).isolates, 2, 'its runs past the threshold went to its second thread, in an isolate there')
})
