import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { IsolatePool, RunnerSupervisor, rank, threadRank } from '../runner/index.js'
import { bodyText, fetchTask, tenantOnThread } from './helpers/programs.js'
import { moduleUrl, nodeArgs, ROOT, userNodeArgs } from './helpers/paths.js'

const pool = new IsolatePool({ threads: 2, hostApiModules: [moduleUrl('test/fixtures/thread-crash.ts')] })
t.teardown(() => pool.close())


const HELLO = `export default { fetch() { return new Response('hello') } }`
const SLOW = `export default { async fetch() { await new Promise((resolve) => setTimeout(resolve, 300)); return new Response('slow') } }`
/** Ends its thread while the run is in flight. */
const CRASH_NOW = `export default { async fetch(request, env, ctx) { await ctx.crash.thread(0); return new Response('survived') } }`
/** Ends its thread 50 ms after the run answered: no run of that thread is in flight then. */
const CRASH_LATER = `export default { async fetch(request, env, ctx) { await ctx.crash.thread(50); return new Response('answered') } }`

const culprit = tenantOnThread(0, 'culprit')
const neighbour = tenantOnThread(0, 'neighbour')
const bystander = tenantOnThread(1, 'bystander')

t.test("a runner's tenants have their homes on every thread of it: the thread is not the runner's index again", async (t) => {
  const homes = [new Set<number>(), new Set<number>()]
  for (let i = 0; i < 200; i++) homes[rank(`tenant-${i}`, 2)[0] as number]?.add(threadRank(`tenant-${i}`, 2)[0] as number)
  t.same(homes.map((threads) => [...threads].sort()), [[0, 1], [0, 1]])
})

t.test('a worker thread that dies under a run answers RUNNER_CRASHED to the runs on it; the other thread keeps serving; the thread is replaced', async (t) => {
  t.equal(bodyText((await pool.run(fetchTask(neighbour, HELLO))).response?.body), 'hello')
  t.equal(bodyText((await pool.run(fetchTask(bystander, HELLO))).response?.body), 'hello')
  const slowNeighbour = pool.run(fetchTask(neighbour, SLOW))
  const slowBystander = pool.run(fetchTask(bystander, SLOW))
  const crashed = pool.run(fetchTask(culprit, CRASH_NOW)).then(
    (result) => ({ result, error: null }),
    (error: unknown) => ({ result: null, error: error as { code?: string } }),
  )
  const outcome = await crashed
  t.equal(outcome.result, null, 'the run has no result')
  t.equal(outcome.error?.code, 'RUNNER_CRASHED')
  await t.rejects(slowNeighbour, { code: 'RUNNER_CRASHED' }, 'a run in flight on the same thread is lost with it')
  t.equal(bodyText((await slowBystander).response?.body), 'slow', 'the other thread never noticed')

  const after = await pool.run(fetchTask(neighbour, HELLO))
  t.equal(bodyText(after.response?.body), 'hello', 'the replacement thread serves the same tenants')
  t.equal(after.metrics.start, 'cold', 'in a new isolate: the dead thread took its isolates with it')
  const stats = await pool.stats()
  t.equal(stats.threadCrashes, 1)
})

t.test('a worker thread that dies with no run in flight is replaced and the pool keeps serving', async (t) => {
  const before = (await pool.stats()).threadCrashes
  const answered = await pool.run(fetchTask(culprit, CRASH_LATER))
  t.equal(bodyText(answered.response?.body), 'answered')
  // The thread dies 50 ms later (a loaded machine may take longer), with its event loop running
  // although no task is in flight; a stats question it was answering just then is lost with it.
  const crashes = (): Promise<number> => pool.stats().then((stats) => stats.threadCrashes, () => before)
  const deadline = Date.now() + 10_000
  while ((await crashes()) === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal((await pool.stats()).threadCrashes, before + 1, 'the thread died, and the death was counted')
  t.equal(bodyText((await pool.run(fetchTask(neighbour, HELLO))).response?.body), 'hello')
  t.equal(bodyText((await pool.run(fetchTask(bystander, HELLO))).response?.body), 'hello')
})

t.test('a worker thread that dies with a collection of its heap in progress ends alone: the process goes on, the thread is replaced', async (t) => {
  // Ended in the middle of a collection, a thread holding isolates aborted its whole process
  // (runner/thread/collect-garbage.ts); the thread now collects as it ends. In a process of its
  // own (the abort would end this one), started as a runner is: under tap's loaders the thread's
  // heap differs and ended cleanly without the collection.
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, userNodeArgs('test/fixtures/thread-dies-collecting.ts'), { cwd: ROOT, timeout: 60_000 }, (_error, stdout, stderr) => {
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr })
    })
  })
  t.same({ code: ended.code, signal: ended.signal }, { code: 0, signal: null }, ended.stderr)
  t.equal(ended.stdout, 'crashed run: RUNNER_CRASHED\nnext run: cold\nthread crashes: 1\nclosed\n')
})

t.test('a pool whose worker thread cannot start (a host API module that does not load) answers every run and call at once (RUNNER_UNAVAILABLE after the first), and closes', async (t) => {
  // Piscina starts no other thread after one failed while starting: nothing would ever serve.
  const broken = new IsolatePool({ threads: 1, hostApiModules: ['file:///isogate-test-no-such-host-api-module.js'] })
  const outcome = (promise: Promise<unknown>): Promise<string> =>
    Promise.race([
      promise.then(() => 'answered', (error: { code?: string }) => String(error.code)),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000).unref()),
    ])
  t.match(await outcome(broken.run(fetchTask(neighbour, HELLO))), /^RUNNER_(CRASHED|UNAVAILABLE)$/, 'the run that found it out')
  t.equal(await outcome(broken.run(fetchTask(bystander, HELLO))), 'RUNNER_UNAVAILABLE', 'every run after it, at once')
  t.equal(await outcome(broken.stats()), 'RUNNER_UNAVAILABLE', 'and a call')
  t.equal(await outcome(broken.close()), 'answered', 'the pool closes')
})

t.test("closing a pool ends while isolated-vm's pool waits in a synchronous call to the busy worker thread: the thread lets its isolates go before it ends", async (t) => {
  // The fixture's second program sets off a spare context's warm-up on isolated-vm's pool, which
  // loads the URL chunk with a synchronous call to the thread, while a host API holds the thread.
  // Ended under that call, the thread never finished ending, nor did pool.close().
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeArgs('test/fixtures/close-during-pool-call.ts'), '3'], { cwd: ROOT, timeout: 30_000 })
  t.equal(stdout.match(/^closed \d+$/gm)?.length, 3, stdout)
})

t.test('an idle thread still disposes isolates idle for isolateIdleMs: its event loop keeps running between tasks', async (t) => {
  const idle = new IsolatePool({ threads: 1, isolateIdleMs: 200 })
  t.teardown(() => idle.close())
  t.equal(bodyText((await idle.run(fetchTask('idle-tenant', HELLO))).response?.body), 'hello')
  t.equal((await idle.stats()).isolates, 1)
  // No task reaches the thread meanwhile: only its own timers can dispose the isolate.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal((await idle.stats()).isolates, 0, 'disposed while the thread had nothing else to do')
})

t.test('in a runner process, a thread crash answers RUNNER_CRASHED, the process lives on, and a tenant that keeps breaking threads is quarantined', async (t) => {
  const supervisor = new RunnerSupervisor({
    runners: 1,
    standby: 0,
    pool: { threads: 2, hostApiModules: [moduleUrl('test/fixtures/thread-crash.ts')] },
    quarantine: { crashes: 2, windowMs: 60_000, coolDownMs: 60_000 },
  })
  t.teardown(() => supervisor.close())
  await supervisor.ready()
  const pid = supervisor.runners[0]?.pid
  for (let i = 0; i < 2; i++) {
    const crashed = await supervisor.run(fetchTask(culprit, CRASH_NOW))
    t.match(crashed.error, { code: 'RUNNER_CRASHED' })
  }
  t.equal(supervisor.runners[0]?.pid, pid, 'the same runner process')
  t.match((await supervisor.run(fetchTask(culprit, HELLO))).error, { code: 'TENANT_QUARANTINED' })
  t.equal(bodyText((await supervisor.run(fetchTask(neighbour, HELLO))).response?.body), 'hello')
  t.match(await supervisor.stats(), { runnerCrashes: 0, quarantinedTenants: 1, threadCrashes: 2 })
})
