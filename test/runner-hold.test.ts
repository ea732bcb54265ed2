import { performance } from 'node:perf_hooks'
import t from 'tap'
import { RunnerSupervisor, rank, type RunResult } from '../runner/index.js'
import { RUN_MASK, startedThrough } from '../runner/framing.js'
import { bodyText, fetchTask } from './helpers/programs.js'
import { until } from './helpers/until.js'

// Runner processes without worker threads (pool.threads 0) run their tenants' steps on the thread
// that reads the gateway's socket. A neighbour's synchronous step that spins must not hold a
// victim's runs: the runs that came before it in the same read are answered before the step starts
// (runner/process/tenant-turns.ts), and those after it are taken back by the gateway once the
// runner's watcher reports the hold, and run on the other runner (runner/process/runner-hold.ts).

const SPIN_MS = 1500
/** Short runs, which earn synchronous first steps, until env.SPIN asks one to spin SPIN_MS. */
const SUDDEN = `export default { fetch(request, env) {
  if (env.SPIN) { const end = Date.now() + ${SPIN_MS}; while (Date.now() < end); }
  return new Response('done')
} }`
const HELLO = `export default { fetch() { return new Response('hello') } }`

/** The first tenant id with this prefix whose rendezvous home among two runners is `runner`. */
function tenantOn(runner: number, prefix: string): string {
  for (let i = 0; i < 1000; i++) if (rank(`${prefix}-${i}`, 2)[0] === runner) return `${prefix}-${i}`
  throw new Error('no tenant id found')
}

const spinner = tenantOn(0, 'spinner')
const victim = tenantOn(0, 'victim')
const spinTask = (spin: boolean, tenant = spinner): ReturnType<typeof fetchTask> => {
  const task = fetchTask(tenant, SUDDEN, {}, { cpuMs: 4 * SPIN_MS, timeoutMs: 5 * SPIN_MS })
  if (spin) task.env = { SPIN: '1' }
  return task
}

t.test("a neighbour's synchronous step holds a runner without worker threads: the victim's runs before it and after it are not held", async (t) => {
  const supervisor = new RunnerSupervisor({ runners: 2, standby: 0, probation: 'on-demand', pool: { threads: 0 } })
  t.teardown(() => supervisor.close())
  await supervisor.ready()
  // A cold run, then enough hot ones to earn synchronous first steps (runner/thread/step-costs.ts).
  for (let i = 0; i < 12; i++) t.equal(bodyText((await supervisor.run(spinTask(false))).response?.body), 'done')
  for (let i = 0; i < 12; i++) t.equal(bodyText((await supervisor.run(fetchTask(victim, HELLO))).response?.body), 'hello')
  const started = async (): Promise<number> => {
    let steps = 0
    for (const { stats } of await supervisor.runnerStats()) steps += (stats?.threadSteps ?? 0) + (stats?.poolSteps ?? 0)
    return steps
  }
  const before = await started()

  // In one turn: the first run is written at once, and the next three go together in one write,
  // which the runner reads at once: a victim's run, the spin, a victim's run (runner-client.ts, framing.ts).
  const timed = (task: ReturnType<typeof fetchTask>): Promise<{ result: RunResult; ms: number }> => {
    const sent = performance.now()
    return supervisor.run(task).then((result) => ({ result, ms: performance.now() - sent }))
  }
  const opening = timed(fetchTask(victim, HELLO))
  const before_ = timed(fetchTask(victim, HELLO))
  const spin = timed(spinTask(true))
  const after = timed(fetchTask(victim, HELLO))

  // The run after it waits for the watcher (~20 ms into the step) and a cold start on the other
  // runner: within the bench's target for a held victim (250 ms), which a watcher that was not
  // watching yet when the runner began to serve missed (runner-hold.ts `watching`).
  for (const [name, run, bound] of [['the run before it', before_, SPIN_MS / 2], ['the run after it', after, 250], ['the run that opened the turn', opening, SPIN_MS / 2]] as const) {
    const { result, ms } = await run
    t.equal(bodyText(result.response?.body), 'hello', `${name} was served`)
    t.ok(ms < bound, `${name} did not wait for the spin (${ms.toFixed(0)} ms of its ${SPIN_MS}, at most ${bound})`)
  }
  const spun = await spin
  t.equal(bodyText(spun.result.response?.body), 'done', 'the spinning run was not ended: it was within its limits')
  t.ok(spun.ms >= SPIN_MS, `it spun its ${SPIN_MS} ms (${spun.ms.toFixed(0)})`)

  // The held runner reaches the run it must not start once its step is over, and counts it then.
  const moved = await until('runs moved off the held runner', async () => (await supervisor.runnerStats())[0]?.stats?.movedRuns ?? 0, (runs) => runs >= 1, 5000)
  t.equal(moved, 1, 'the run after the spin was taken back from the held runner')
  t.equal((await started()) - before, 4, 'each run started once: none both on the held runner and on the other')
  t.equal(bodyText((await supervisor.run(fetchTask(victim, HELLO))).response?.body), 'hello', 'fenced, the runner serves its tenants again')

  // Held again, by another tenant (the first spin cost its program its synchronous steps): each
  // hold gets its fence (a second may be told before the first fence's answer, which comes on the
  // other socket), and the runner is not left refusing its runs.
  const second = tenantOn(0, 'second-spinner')
  for (let i = 0; i < 12; i++) t.equal(bodyText((await supervisor.run(spinTask(false, second))).response?.body), 'done')
  void timed(fetchTask(victim, HELLO))
  const again = timed(spinTask(true, second))
  const afterAgain = timed(fetchTask(victim, HELLO))
  t.equal(bodyText((await afterAgain).result.response?.body), 'hello', 'the run after the second spin was served')
  t.ok((await afterAgain).ms < SPIN_MS / 2, `and did not wait for it (${(await afterAgain).ms.toFixed(0)} ms)`)
  await again
  await until('runs moved off the held runner', async () => (await supervisor.runnerStats())[0]?.stats?.movedRuns ?? 0, (runs) => runs >= 2, 5000)
  for (let i = 0; i < 5; i++) t.equal(bodyText((await supervisor.run(fetchTask(victim, HELLO))).response?.body), 'hello', 'fenced twice, the runner serves its tenants')
  t.equal(supervisor.runners[0]?.ready, true)
})

t.test('the last run a held runner started, from the low bits its watcher reports', async (t) => {
  t.equal(startedThrough(7, 9), 7)
  t.equal(startedThrough(9, 9), 9, 'every run sent was started')
  t.equal(startedThrough(5, 2 ** 30 + 10), 2 ** 30 + 5, 'past 2^30 ids')
  t.equal(startedThrough(RUN_MASK, 2 ** 30 + 2), 2 ** 30 - 1, 'the low bits wrapped between the last run started and the last sent')
  t.equal(startedThrough((3 * 2 ** 30 + 1) & RUN_MASK, 3 * 2 ** 30 + 40), 3 * 2 ** 30 + 1)
})
