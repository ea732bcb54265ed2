import t from 'tap'
import { IsolatePool, RunnerSupervisor } from '../runner/index.js'
import { bodyText, fetchTask } from './helpers/programs.js'

const SOURCE = "export default { fetch() { return new Response('hi') } }"

t.test('an eviction right behind a run of the tenant (one socket read) waits for that run, then lets go of the isolate it made', async (t) => {
  const pool = new IsolatePool({ threads: 1 })
  t.teardown(() => pool.close())
  t.equal(bodyText((await pool.run(fetchTask('stays', SOURCE))).response?.body), 'hi')
  // As a runner process serves the frames of one read: the run, then the eviction, in one turn.
  // A program of its own (the thread holds none of it), so its run compiles while the eviction arrives.
  const run = pool.run(fetchTask('goes', SOURCE.replace('hi', 'goes')))
  const evicted = pool.evict('goes')
  const [result, counts] = await Promise.all([run, evicted])
  t.equal(bodyText(result.response?.body), 'goes', `the run sent first was served, not disposed under while it compiled (${JSON.stringify(result.error)})`)
  t.match(counts, { isolates: 1 }, 'its isolate was let go')
  t.equal((await pool.stats()).isolates, 1, 'only the other tenant is held')
})

t.test('runs of the tenant still waiting for a slot when a runner answers the eviction: the gateway asks again once they end', async (t) => {
  // One slot on the thread: the tenant's other runs wait in the runner for it, and reach the
  // thread after the eviction did.
  const supervisor = new RunnerSupervisor({ runners: 1, standby: 0, probation: 'on-demand', pool: { threads: 1, concurrentTasksPerWorker: 1 } })
  t.teardown(() => supervisor.close())
  await supervisor.ready()
  const slow = "export default { async fetch() { await new Promise((resolve) => setTimeout(resolve, 50)); return new Response('slow') } }"
  const runs = Array.from({ length: 4 }, () => supervisor.run(fetchTask('busy', slow)))
  await new Promise((resolve) => setTimeout(resolve, 20))
  const evicted = await supervisor.evict('busy', 2000)
  const results = await Promise.all(runs)
  t.same(results.map((result) => bodyText(result.response?.body)), ['slow', 'slow', 'slow', 'slow'], 'every run sent before the eviction was served')
  t.ok(evicted.isolates >= 1, `isolates let go: ${evicted.isolates}`)
  t.equal((await supervisor.stats()).isolates, 0, 'no isolate of the tenant is left behind')
})
