import t from 'tap'
import { setTimeout as delay } from 'node:timers/promises'
import { IsolatePool } from '../runner/index.js'
import { claimRun, RunClaims } from '../runner/run-claims.js'
import { bodyText, fetchTask, tenantOnThread } from './helpers/programs.js'

t.test('a run on offer is started by the thread or withdrawn by the shard, never both; a stale claim on a reused cell fails', async (t) => {
  const claims = new RunClaims(5)
  const cells = new Int32Array(claims.buffer)
  const first = claims.offer(1)
  t.not(first, 0, 'a free cell')
  t.notOk(claims.taken(first, 1), 'on offer')
  t.ok(claimRun(cells, first, 1), 'the thread claims it')
  t.ok(claims.taken(first, 1), 'the shard sees it started')
  t.notOk(claims.withdraw(first, 1), 'a started run cannot be withdrawn')
  claims.release(first)

  const second = claims.offer(2)
  t.ok(claims.withdraw(second, 2), 'an unread run is withdrawn')
  t.notOk(claimRun(cells, second, 2), 'the thread skips it when it reads it')
  claims.release(second)
  const reused = claims.offer(3)
  t.equal(reused, second, 'the cell holds another run')
  t.notOk(claimRun(cells, reused, 2), "the withdrawn run's batch, read late, cannot take the new run's cell")
  t.ok(claimRun(cells, reused, 3), 'the new run is claimed')

  t.not(claims.offer(4), 0)
  t.not(claims.offer(5), 0, 'the last free cell')
  t.equal(claims.offer(6), 0, 'every cell taken: 0, a run that is not withdrawable')
  t.ok(claimRun(cells, 0, 6), 'and the thread always starts it')
})


const HELLO = `export default { fetch() { return new Response('hello') } }`
/** Short runs (they earn synchronous first steps), until a request asks it to spin 3 s on the thread. */
const SUDDEN_SPIN = `export default { fetch(request) {
  if (new URL(request.url).searchParams.has('spin')) { const end = Date.now() + 3000; while (Date.now() < end); }
  return new Response('done')
} }`
/** Issue 20: a spinning tenant may hold a co-located tenant's run no longer than this (ms). */
const TARGET_MS = 50

const pool = new IsolatePool({ threads: 2 })
t.teardown(() => pool.close())

t.test("a tenant spinning in a synchronous step does not hold its thread's other runs: they run on the other thread, each within a few times the target", async (t) => {
  const victim = tenantOnThread(0, 'victim')
  const spinner = tenantOnThread(0, 'spinner')
  for (let i = 0; i < 3; i++) t.equal(bodyText((await pool.run(fetchTask(victim, HELLO))).response?.body), 'hello')
  // A cold run, then enough hot ones for the program to earn synchronous first steps (step-costs.ts).
  for (let i = 0; i < 12; i++) await pool.run(fetchTask(spinner, SUDDEN_SPIN))
  const before = await pool.stats()
  await pool.run(fetchTask(spinner, SUDDEN_SPIN))
  t.equal((await pool.stats()).threadSteps - before.threadSteps, 1, "the spinner's runs take their first step on the thread itself")

  let spinnerDone = false
  const spinning = pool.run(fetchTask(spinner, SUDDEN_SPIN, { url: 'http://example.test/?spin' }, { cpuMs: 5000, timeoutMs: 6000 })).then((result) => {
    spinnerDone = true
    return result
  })
  // Long enough for the spin to have begun on a loaded machine; the pool cannot know yet, as the
  // thread has no run on offer.
  await delay(100)
  // Runs sent to the held thread before the pool knows it is held: they wait in its inbox until withdrawn.
  const sentBefore = Array.from({ length: 5 }, () => {
    const started = performance.now()
    return pool.run(fetchTask(victim, HELLO)).then((result) => ({ body: bodyText(result.response?.body), ms: performance.now() - started, beside: !spinnerDone }))
  })
  const early = await Promise.all(sentBefore)
  t.same(early.map((run) => run.body), Array(5).fill('hello'), 'the runs in the held thread were answered')
  t.ok(early.every((run) => run.beside), 'while the spinner still held its thread')
  const slowest = Math.max(...early.map((run) => run.ms))
  t.ok(slowest < 10 * TARGET_MS, `each within ${10 * TARGET_MS} ms (slowest ${slowest.toFixed(1)} ms), not the spin's 3 s`)

  // One after another, as a client would: the pool sends them to the free thread at once.
  const waits: number[] = []
  let answeredBeside = 0
  for (let i = 0; i < 10; i++) {
    const started = performance.now()
    const result = await pool.run(fetchTask(victim, HELLO))
    waits.push(performance.now() - started)
    if (bodyText(result.response?.body) === 'hello' && !spinnerDone) answeredBeside++
  }
  waits.sort((a, b) => a - b)
  const median = waits[Math.floor(waits.length / 2)] as number
  t.equal(answeredBeside, 10, 'every later run was answered while the spinner held its thread')
  t.ok(median < TARGET_MS, `the median wait ${median.toFixed(1)} ms is under ${TARGET_MS} ms (slowest ${(waits.at(-1) as number).toFixed(1)} ms)`)

  const spun = await spinning
  t.equal(bodyText(spun.response?.body), 'done', "the spinner's own run finished within its limits, untouched")
  t.ok((await pool.stats()).movedRuns >= 5, 'the runs taken from the held thread are counted')
  // The thread reads again: its tenants' runs are home.
  t.equal(bodyText((await pool.run(fetchTask(victim, HELLO))).response?.body), 'hello')
})

t.test("a run handed to the thread in the same turn as a neighbour's sudden spin is answered at once, not after the spin", async (t) => {
  const victim = tenantOnThread(0, 'early-victim')
  const spinner = tenantOnThread(0, 'late-spinner')
  // A program of its own: the test above banned SUDDEN_SPIN's steps from the thread (step-costs.ts).
  const spin = `${SUDDEN_SPIN}\n// the late spinner`
  for (let i = 0; i < 3; i++) t.equal(bodyText((await pool.run(fetchTask(victim, HELLO))).response?.body), 'hello')
  // Enough hot runs for both programs to earn synchronous first steps (step-costs.ts).
  for (let i = 0; i < 12; i++) await pool.run(fetchTask(victim, HELLO))
  for (let i = 0; i < 12; i++) await pool.run(fetchTask(spinner, spin))
  const before = await pool.stats()
  let spinnerDone = false
  const started = performance.now()
  // Handed over in one turn, the victim's run first: they reach the thread together (worker-shard.ts).
  const victimRun = pool.run(fetchTask(victim, HELLO)).then((result) => ({ body: bodyText(result.response?.body), ms: performance.now() - started, beside: !spinnerDone }))
  const spinning = pool.run(fetchTask(spinner, spin, { url: 'http://example.test/?spin' }, { cpuMs: 5000, timeoutMs: 6000 })).then((result) => {
    spinnerDone = true
    return result
  })
  const answered = await victimRun
  t.equal(answered.body, 'hello')
  t.ok(answered.beside, 'answered while the spinner still held its thread')
  t.ok(answered.ms < 10 * TARGET_MS, `within ${10 * TARGET_MS} ms (${answered.ms.toFixed(1)} ms), not the spin's 3 s`)
  t.equal(bodyText((await spinning).response?.body), 'done')
  t.equal((await pool.stats()).threadSteps - before.threadSteps, 2, 'both took their first step on the thread itself')
})
