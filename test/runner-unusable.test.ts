import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { RunnerSupervisor, type RunnerEvent } from '../runner/index.js'
import { bodyText, fetchTask } from './helpers/programs.js'
import { moduleUrl } from './helpers/paths.js'
import { tempFolder } from './helpers/temp.js'

const HELLO = `export default { fetch() { return new Response('hello') } }`
const CRASH_NOW = `export default { async fetch(request, env, ctx) { await ctx.crash.thread(); return new Response('survived') } }`

/** The breakable fixture's URL, broken while `marker` exists. */
function breakable(marker: string): string {
  return `${moduleUrl('test/fixtures/breakable-host-api.ts')}?marker=${encodeURIComponent(marker)}`
}

/** Waits for `check`; a wait that times out says `what`, and what `state` reports then (for a race that CI met once). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, state?: () => Promise<unknown>): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}${state === undefined ? '' : `; then: ${JSON.stringify(await state().catch((error: unknown) => String(error)))}`}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** What the supervisor and its runners say: for a wait that timed out. */
function supervisorState(supervisor: RunnerSupervisor, events: RunnerEvent[]): () => Promise<unknown> {
  return async () => ({ events, runners: supervisor.runners, unavailable: supervisor.unavailableRunners, stats: await supervisor.stats(2_000).catch((error: unknown) => String(error)) })
}

t.test('a runner whose worker thread cannot start fails its start: ready() rejects and names the runner, rather than a gateway serving RUNNER_UNAVAILABLE', async (t) => {
  const supervisor = new RunnerSupervisor({
    runners: 1,
    standby: 0,
    probation: 'on-demand',
    pool: { threads: 1, hostApiModules: ['file:///isogate-test-no-such-host-api-module.js'] },
  })
  t.teardown(() => supervisor.close())
  const outcome = await Promise.race([
    supervisor.ready().then(() => 'ready', (error: { code?: string; message?: string }) => `${error.code}: ${error.message}`),
    new Promise<string>((resolve) => setTimeout(() => resolve('still starting after 20 s'), 20_000).unref()),
  ])
  t.equal(outcome, 'RUNNER_UNAVAILABLE: runner 0 exited while starting')
})

t.test('a serving runner whose dead thread cannot be replaced is replaced itself: runs wait for the new runner, the supervisor reports it unavailable while none can start, and it serves again once the cause is gone', async (t) => {
  const marker = path.join(tempFolder(t, 'isogate-breakable-'), 'broken')
  const events: RunnerEvent[] = []
  const supervisor = new RunnerSupervisor({
    runners: 1,
    standby: 0,
    probation: 'on-demand',
    restartDelayMs: 20,
    maxRestartDelayMs: 200,
    unavailableAfterMs: 600,
    pool: { threads: 1, hostApiModules: [breakable(marker)] },
    onEvent: (event) => events.push(event),
  })
  t.teardown(() => supervisor.close())
  await supervisor.ready()
  const first = supervisor.runners[0]?.pid
  t.equal(bodyText((await supervisor.run(fetchTask('tenant-a', HELLO))).response?.body), 'hello')
  t.same(supervisor.unavailableRunners, [])

  // From now on no thread can start: the one that dies next is not replaced.
  writeFileSync(marker, '')
  t.match((await supervisor.run(fetchTask('culprit', CRASH_NOW))).error, { code: 'RUNNER_CRASHED' })
  await until('the runner says it is unusable', () => events.some((event) => event.type === 'unusable'), 15_000, supervisorState(supervisor, events))
  t.match(events.find((event) => event.type === 'unusable'), { type: 'unusable', runner: 0, pid: first, reason: /could not start: .*broken while/ })
  t.notOk(events.some((event) => event.type === 'crash'), 'not a crash: nobody is blamed')
  await until('the slot is reported unavailable', () => supervisor.unavailableRunners.length === 1)
  t.same(supervisor.unavailableRunners, [0])
  t.match((await supervisor.run(fetchTask('tenant-a', HELLO))).error, { code: 'RUNNER_UNAVAILABLE' }, 'answered, not left waiting')
  await until('the replaced runner has exited', () => events.some((event) => event.type === 'exit' && event.pid === first))

  // The cause is gone: the next start serves, and a run sent meanwhile is answered by it.
  rmSync(marker)
  await until('a new runner serves', () => supervisor.runners[0]?.ready === true)
  t.not(supervisor.runners[0]?.pid, first, 'another process')
  t.equal(bodyText((await supervisor.run(fetchTask('tenant-a', HELLO))).response?.body), 'hello')
  t.same(supervisor.unavailableRunners, [])
})

t.test('runs that reach a runner as it turns unusable run on the runner that takes its place: none is answered RUNNER_UNAVAILABLE', async (t) => {
  const marker = path.join(tempFolder(t, 'isogate-breakable-'), 'broken')
  const events: RunnerEvent[] = []
  const supervisor = new RunnerSupervisor({
    runners: 1,
    standby: 1,
    probation: 'on-demand',
    standbyDelayMs: 0,
    pool: { threads: 1, hostApiModules: [breakable(marker)] },
    onEvent: (event) => events.push(event),
  })
  t.teardown(() => supervisor.close())
  await supervisor.ready()
  // The standby started before the cause: it can serve.
  await until('the standby is ready', () => supervisor.probation.readyStandbys === 1)
  const first = supervisor.runners[0]?.pid
  t.equal(bodyText((await supervisor.run(fetchTask('tenant-a', HELLO))).response?.body), 'hello')

  writeFileSync(marker, '')
  t.match((await supervisor.run(fetchTask('culprit', CRASH_NOW))).error, { code: 'RUNNER_CRASHED' })
  // The thread is dead and its replacement is failing to start: runs keep coming meanwhile.
  const runs: Array<Promise<string>> = []
  let beforeNotice = 0
  for (let i = 0; i < 200 && runs.length - beforeNotice < 10; i++) {
    if (!events.some((event) => event.type === 'unusable')) beforeNotice++
    runs.push(supervisor.run(fetchTask('tenant-a', HELLO)).then((result) => result.error?.code ?? bodyText(result.response?.body)))
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  t.ok(beforeNotice > 0, `${beforeNotice} runs were sent before the gateway heard the runner was unusable`)
  const answers = await Promise.all(runs)
  t.same(answers.filter((answer) => answer !== 'hello'), [], `all ${answers.length} answered by a runner`)
  t.ok(events.some((event) => event.type === 'unusable' && event.pid === first), 'the runner said it was unusable')
  t.not(supervisor.runners[0]?.pid, first, 'the standby took its place')
  rmSync(marker)
})
