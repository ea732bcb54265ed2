import t from 'tap'
import { readFileSync } from 'node:fs'
import { alive, childPids } from './helpers/processes.js'
import { RunnerSupervisor, rank, type RunnerEvent, type RunResult } from '../runner/index.js'
import { bodyText, fetchTask } from './helpers/programs.js'
import { RUNNER_V8_FLAGS } from '../runner/supervisor/v8-flags.js'
import { RUNNER_MALLOC_TUNABLES } from '../runner/supervisor/malloc-tunables.js'

/** `new Array(1e9).fill(0)` in a 16 MB isolate: V8 aborts the whole runner process (SIGABRT). */
const BOMB = `export default { fetch() { new Array(1e9).fill(0); return new Response('survived') } }`
const HELLO = `export default { fetch(request, env) { return new Response('hello ' + env.WHO) } }`
/**
 * In flight (waiting, its thread free) when the bomb goes off next to it, even on a loaded
 * machine: it answers at env.UNTIL (epoch ms), so its retry after the crash finishes then too.
 */
const SLOW = `export default { async fetch(request, env) { await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(env.UNTIL) - Date.now()))); return new Response('slow') } }`
// 16 MB: V8 aborts the runner, a second or so sooner than at 64 (at 8 MB the isolate's memory limit catches the bomb: SCRIPT_MEMORY_LIMIT).
const GENEROUS = { memoryMb: 16, timeoutMs: 60_000, cpuMs: 60_000 }

/** The first tenant id with this prefix whose rendezvous home among two runners is `runner`. */
function tenantOn(runner: number, prefix: string): string {
  for (let i = 0; i < 1000; i++) if (rank(`${prefix}-${i}`, 2)[0] === runner) return `${prefix}-${i}`
  throw new Error('no tenant id found')
}

function hello(tenantId: string): ReturnType<typeof fetchTask> {
  const task = fetchTask(tenantId, HELLO)
  task.env = { WHO: tenantId }
  return task
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const events: RunnerEvent[] = []
const seenAt = new Map<RunnerEvent, number>()
// A suspect has the probation runner alone until its runs are answered (the default lets the next one
// in after 50 ms, which would put the neighbour beside the culprit's bomb, seconds in the going off:
// a crash with two in flight convicts nobody).
const supervisor = new RunnerSupervisor({ runners: 2, pool: { threads: 2 }, probationAloneMs: 60_000, onEvent: (event) => { events.push(event); seenAt.set(event, Date.now()) } })
t.teardown(() => supervisor.close())

// The culprit and its neighbour share runner 0; the bystander is served by runner 1.
const culprit = tenantOn(0, 'culprit')
const neighbour = tenantOn(0, 'neighbour')
const bystander = tenantOn(1, 'bystander')
/** On runner 0 too, and in flight at no crash: it never goes on probation. */
const later = tenantOn(0, 'later')

t.before(() => supervisor.ready())

t.test('tenants are sharded across runner processes by rendezvous hashing', async (t) => {
  t.equal(supervisor.runnerFor(culprit), 0)
  t.equal(supervisor.runnerFor(neighbour), 0)
  t.equal(supervisor.runnerFor(bystander), 1)
  const pids = supervisor.runners.map((runner) => runner.pid)
  t.equal(new Set(pids).size, 2, 'two distinct processes')
  for (const pid of pids) {
    t.not(pid, process.pid)
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    for (const flag of ['--no-node-snapshot', ...RUNNER_V8_FLAGS]) t.ok(argv.includes(flag), `the runner runs with ${flag}`)
    const tunables = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((entry) => entry.startsWith('GLIBC_TUNABLES='))?.slice('GLIBC_TUNABLES='.length).split(':') ?? []
    for (const tunable of RUNNER_MALLOC_TUNABLES) t.ok(tunables.includes(tunable), `the runner's allocator runs with ${tunable}`)
  }
  for (const tenant of [culprit, neighbour, bystander]) {
    const result = await supervisor.run(hello(tenant))
    t.equal(bodyText(result.response?.body), `hello ${tenant}`)
  }
  t.match(await supervisor.check('export default {'), { ok: false, error: { code: 'SCRIPT_SYNTAX_ERROR', line: 1 } })
  const stats = await supervisor.stats()
  t.match(stats, { runners: 2, runnersReady: 2, runnerCrashes: 0 })
  t.ok(stats.isolates >= 3, `isolates summed over the runners: ${stats.isolates}`)
  // The probation runner starts with one thread (probationThreads), the serving runners with pool.threads.
  t.same((await supervisor.runnerStats()).map((entry) => entry.stats?.threads), [2, 2], 'each serving runner runs pool.threads')
  t.equal(stats.threads, 2 + 2 + 1, 'and the probation runner one')
})

t.test('a script that aborts its runner fails only its own run: the neighbour in flight runs again and is cleared, the culprit crashes probation alone and is convicted; other runners keep serving', async (t) => {
  const before = supervisor.runners
  const crashedPid = before[0]?.pid as number
  const otherPid = before[1]?.pid
  t.ok(alive(crashedPid))

  const slowTask = fetchTask(neighbour, SLOW, {}, GENEROUS)
  // In flight until the bomb has crashed the runner (within about 2 s on a loaded 2-core machine),
  // then run again, to this same instant. Its run was the older one, so it is the prime suspect:
  // the culprit's retry goes onto probation first and crashes it alone (probationAloneMs keeps
  // the neighbour out meanwhile); convicted, the culprit clears the neighbour, whose retry then
  // runs at home.
  const started = Date.now()
  slowTask.env = { UNTIL: String(started + 10_000) }
  const slow = supervisor.run(slowTask)
  const bomb = supervisor.run(fetchTask(culprit, BOMB, {}, GENEROUS))
  let bombAnswered = false
  const answeredAt = bomb.then((result) => {
    bombAnswered = true
    return { result, at: Date.now() }
  })

  // The bystander keeps asking, a few at a time, until the crash is over.
  const served: RunResult[] = []
  for (let round = 0; round < 2000 && !bombAnswered; round++) {
    served.push(...(await Promise.all([1, 2, 3].map(() => supervisor.run(hello(bystander))))))
  }
  const { result: crashed, at } = await answeredAt
  // The restarted runner serves a tenant of its own at once (runs wait for it, bounded). Not the
  // neighbour: its retry is still running to UNTIL.
  const again = await supervisor.run(hello(later))
  const restartMs = Date.now() - at
  const neighbourResult = await slow

  t.match(crashed, { ok: false, error: { code: 'RUNNER_CRASHED' } }, 'the culprit run answers RUNNER_CRASHED (its retry crashed the probation runner)')
  t.same(crashed.error, { code: 'RUNNER_CRASHED', message: 'the runner process executing this run crashed' }, 'no internal flag leaks into the answer')
  t.equal(bodyText(neighbourResult.response?.body), 'slow', 'the neighbour in flight on the same runner ran again and was served')
  t.ok(served.length >= 3, `the bystander was served during the crash (${served.length} runs)`)
  t.ok(served.every((result) => result.ok && bodyText(result.response?.body) === `hello ${bystander}`), 'every bystander run succeeded')
  const crash = events.find((event) => event.type === 'crash' && event.pid === crashedPid)
  t.match(crash, { runner: 0, lostRuns: 2 })
  t.comment(`runner 0 crashed ${crash === undefined ? '?' : (seenAt.get(crash) ?? 0) - started} ms after the runs were sent (the neighbour runs until 10,000 ms)`)
  t.same(crash?.type === 'crash' ? crash.tenants.sort() : [], [culprit, neighbour].sort(), 'the tenants in flight are reported')
  t.match(events.find((event) => event.type === 'suspects'), { runner: 0, pid: crashedPid }, 'they are suspects, not culprits')
  const probationCrash = events.find((event) => event.type === 'crash' && event.runner === 2)
  t.same(probationCrash?.type === 'crash' ? probationCrash.tenants : [], [culprit], 'the culprit crashed the probation runner alone')
  for (let i = 0; i < 100 && !events.some((event) => event.type === 'convicted'); i++) await sleep(20)
  t.match(events.find((event) => event.type === 'convicted'), { tenantId: culprit, crashes: 2 }, 'both crashes are held against it')
  t.match(events.find((event) => event.type === 'cleared'), { tenantId: neighbour }, 'the neighbour is cleared')
  t.notOk(events.some((event) => event.type === 'convicted' && event.tenantId === neighbour))

  t.equal(bodyText(again.response?.body), `hello ${later}`)
  t.ok(restartMs < 2000, `runner 0 served again ${restartMs} ms after the crash`)
  t.equal(bodyText((await supervisor.run(hello(neighbour))).response?.body), `hello ${neighbour}`, 'the neighbour is served again too')
  const ready = events.find((event) => event.type === 'ready' && event.runner === 0 && event.restart)
  t.comment(`restart: runner 0 serving again ${ready?.type === 'ready' ? ready.startMs : '?'} ms after it was lost; first run served ${restartMs} ms after the crash answer`)
  t.not(supervisor.runners[0]?.pid, crashedPid, 'a new process')
  for (let i = 0; i < 100 && !events.some((event) => event.type === 'exit' && event.pid === crashedPid); i++) await sleep(50)
  t.match(events.find((event) => event.type === 'exit' && event.pid === crashedPid), { runner: 0, signal: 'SIGABRT' }, 'V8 aborted the runner')
  t.notOk(alive(crashedPid), 'the crashed process is gone')
  t.equal(supervisor.runners[1]?.pid, otherPid, 'the other runner was never restarted')
})

t.test('a tenant that keeps crashing runners is quarantined: TENANT_QUARANTINED without reaching a runner, others served', async (t) => {
  // Two crashes are held against the culprit above; its next run goes to probation, crashes it
  // alone, and the third crash within the window quarantines it (default 3 in 60 s).
  const answers: string[] = []
  for (let attempt = 0; attempt < 3; attempt++) {
    const result = await supervisor.run(fetchTask(culprit, BOMB, {}, GENEROUS))
    answers.push(result.error?.code ?? 'OK')
    if (result.error?.code === 'TENANT_QUARANTINED') break
  }
  t.same(answers, ['RUNNER_CRASHED', 'TENANT_QUARANTINED'])
  t.match(events.find((event) => event.type === 'quarantine'), { tenantId: culprit })

  const pids = supervisor.runners.map((runner) => runner.pid)
  const crashes = (await supervisor.stats()).runnerCrashes
  const started = performance.now()
  const refused = await supervisor.run(fetchTask(culprit, BOMB, {}, GENEROUS))
  t.match(refused, { ok: false, error: { code: 'TENANT_QUARANTINED', message: /refused for another \d+ s/ } })
  t.ok(performance.now() - started < 1000, 'answered at once')
  t.same(supervisor.runners.map((runner) => runner.pid), pids, 'no runner was touched')

  for (const tenant of [neighbour, bystander]) {
    const result = await supervisor.run(hello(tenant))
    t.equal(bodyText(result.response?.body), `hello ${tenant}`, `${tenant} is served`)
    if (!result.ok) t.comment(JSON.stringify(result.error), JSON.stringify(events.map((e) => ({ ...e, t: Date.now() }))))
  }
  t.match(await supervisor.stats(), { runnerCrashes: crashes, quarantinedTenants: 1, runnersReady: 2 })
  t.ok((await supervisor.stats()).quarantinedRuns >= 2)
})

t.test('close() leaves no runner process alive, standby included', async (t) => {
  // The supervisor above went through crashes, standby promotions and restarts.
  for (let i = 0; i < 200 && childPids().length < 4; i++) await sleep(50)
  const pids = childPids()
  t.ok(pids.length >= 4, `two runners, the probation runner and a standby are children of this process: ${pids.join(', ')}`)
  for (const runner of supervisor.runners) t.ok(pids.includes(runner.pid as number), `runner ${runner.runner} (${runner.pid}) is one of them`)
  await supervisor.close()
  for (const pid of pids) t.notOk(alive(pid), `process ${pid} is gone`)
  t.same(childPids(), [], 'no child process left')
  t.match(await supervisor.run(hello(bystander)), { ok: false, error: { code: 'RUNNER_UNAVAILABLE' } }, 'a closed supervisor refuses runs')
})

t.test('what starts after a crash waits standbyDelayMs: the next standby, and the probation runner, which never takes the standby', async (t) => {
  const supervisor = new RunnerSupervisor({ runners: 1, standby: 1, probation: 'ready', pool: { threads: 1 }, standbyDelayMs: 1500 })
  t.teardown(() => supervisor.close())
  await supervisor.ready()
  for (let i = 0; i < 750 && supervisor.probation.readyStandbys < 1; i++) await sleep(20)
  t.equal(supervisor.probation.readyStandbys, 1, 'a standby is ready')
  const started = (before: Set<number>): number[] => childPids().filter((pid) => !before.has(pid))

  // The probation runner crashes: it starts again cold, later; the standby stays for the serving runner.
  const probationPid = supervisor.probation.pid as number
  let before = new Set(childPids())
  process.kill(probationPid, 'SIGKILL')
  for (let i = 0; i < 250 && supervisor.probation.ready; i++) await sleep(20)
  let lostAt = performance.now()
  await sleep(500)
  t.equal(supervisor.probation.readyStandbys, 1, 'the standby did not take the probation runner\'s place')
  t.notOk(supervisor.probation.ready, 'the probation runner is not serving yet')
  t.same(started(before), [], 'no process started within 500 ms of the crash')
  for (let i = 0; i < 750 && !supervisor.probation.ready; i++) await sleep(20)
  t.ok(supervisor.probation.ready, 'the probation runner serves again')
  t.ok(performance.now() - lostAt >= 1400, 'started standbyDelayMs after the crash')

  // The serving runner crashes: the standby takes its place at once; the next standby starts later.
  const runnerPid = supervisor.runners[0]?.pid as number
  before = new Set(childPids())
  process.kill(runnerPid, 'SIGKILL')
  for (let i = 0; i < 250 && (supervisor.runners[0]?.pid === runnerPid || supervisor.runners[0]?.ready !== true); i++) await sleep(20)
  lostAt = performance.now()
  t.ok(before.has(supervisor.runners[0]?.pid as number) && supervisor.runners[0]?.ready === true, 'the standby serves in the crashed runner\'s place')
  t.equal(bodyText((await supervisor.run(hello('after-crash'))).response?.body), 'hello after-crash')
  await sleep(500)
  t.same(started(before), [], 'no standby started within 500 ms of the crash')
  for (let i = 0; i < 750 && supervisor.probation.readyStandbys < 1; i++) await sleep(20)
  t.equal(supervisor.probation.readyStandbys, 1, 'a new standby is ready')
  t.ok(performance.now() - lostAt >= 1400, 'started standbyDelayMs after the crash')
})

t.test('options are checked and named', async (t) => {
  t.throws(() => new RunnerSupervisor({ runners: 0 }), { name: 'RangeError', message: /options\.runners/ })
  t.throws(() => new RunnerSupervisor({ runners: 1.5 }), { name: 'TypeError', message: /options\.runners/ })
  t.throws(() => new RunnerSupervisor({ unavailableAfterMs: 0 }), { name: 'RangeError', message: /options\.unavailableAfterMs/ })
  t.throws(() => new RunnerSupervisor({ standbyDelayMs: -1 }), { name: 'RangeError', message: /options\.standbyDelayMs/ })
  t.throws(() => new RunnerSupervisor({ quarantine: { crashes: 0 } }), { name: 'RangeError', message: /options\.crashes/ })
})
