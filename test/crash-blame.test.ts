import t from 'tap'
import { Quarantine } from '../runner/index.js'
import { CrashBlame, type BlameDecision } from '../runner/supervisor/crash-blame.js'
import { ProbationLane } from '../runner/supervisor/probation-lane.js'
import { CircuitBreaker, countsAgainstScript, type CircuitChange } from '../gateway/index.js'

function setup(crashes = 3): { blame: CrashBlame; quarantine: Quarantine; decisions: BlameDecision[]; clock: { now: number } } {
  const clock = { now: 1_000_000 }
  const quarantine = new Quarantine({ crashes, windowMs: 60_000, coolDownMs: 300_000, now: () => clock.now })
  const decisions: BlameDecision[] = []
  const blame = new CrashBlame({ quarantine, suspicionMs: 60_000, onDecision: (d) => decisions.push(d), now: () => clock.now })
  return { blame, quarantine, decisions, clock }
}

t.test('a crash with several tenants in flight makes suspects, not culprits; the one that crashes probation alone is convicted of both, the other cleared', async (t) => {
  const { blame, quarantine, decisions } = setup()
  blame.crashed(0, 100, ['hostile', 'innocent'])
  blame.exited(100, 'SIGABRT')
  t.ok(blame.suspected('hostile'))
  t.ok(blame.suspected('innocent'))
  t.equal(quarantine.crashesOf('innocent'), 0, 'nothing is held against anyone yet')

  blame.crashed(2, 101, ['hostile'])
  blame.exited(101, 'SIGABRT')
  t.equal(quarantine.crashesOf('hostile'), 2, 'the probation crash and the shared one')
  t.notOk(blame.suspected('innocent'), 'the innocent is cleared: the culprit was found')
  t.ok(blame.suspected('hostile'), 'the convicted tenant stays on probation')
  t.match(decisions.map((d) => d.type), ['suspects', 'suspects', 'convicted', 'cleared'])
  t.match(decisions.find((d) => d.type === 'cleared'), { tenantId: 'innocent', reason: 'culprit-found' })

  blame.crashed(2, 102, ['hostile'])
  blame.exited(102, 'SIGABRT')
  t.match(decisions.at(-1), { type: 'quarantine', tenantId: 'hostile' }, 'the third crash held against it quarantines it')
  t.not(quarantine.until('hostile'), null)
  t.equal(quarantine.until('innocent'), null)
  t.match(blame.counts, { convicted: 2, cleared: 1 })
})

t.test('a suspect that runs alone on probation without a crash is cleared; when every suspect is, the crash is blamed on nobody', async (t) => {
  const { blame, decisions } = setup()
  blame.crashed(0, 200, ['a', 'b'])
  blame.exited(200, 'SIGSEGV')
  blame.ranClean('a')
  t.notOk(blame.suspected('a'))
  t.ok(blame.suspected('b'), 'b is still a suspect: clearing one convicts no other')
  blame.ranClean('b')
  t.equal(blame.suspects, 0)
  t.match(decisions.filter((d) => d.type !== 'suspects'), [
    { type: 'cleared', tenantId: 'a', reason: 'ran-clean' },
    { type: 'unattributed', reason: 'suspects-cleared' },
    { type: 'cleared', tenantId: 'b', reason: 'ran-clean' },
  ])
})

t.test('a runner ended by an outside signal implicates nobody, even with one tenant in flight', async (t) => {
  const { blame, quarantine, decisions } = setup(1)
  blame.crashed(0, 300, ['busy'])
  t.ok(blame.suspected('busy'), 'a suspect until the exit is known')
  blame.exited(300, 'SIGKILL')
  t.notOk(blame.suspected('busy'))
  t.equal(quarantine.crashesOf('busy'), 0)
  t.equal(quarantine.until('busy'), null, 'not quarantined, though one crash would quarantine')
  t.match(decisions.at(-1), { type: 'unattributed', reason: 'outside-signal', signal: 'SIGKILL' })
  blame.crashed(0, 301, [])
  t.match(decisions.at(-1), { type: 'unattributed', reason: 'nobody-in-flight' })
})

t.test('a lone tenant whose runner aborted (not an outside signal) is convicted at the exit', async (t) => {
  const { blame, quarantine } = setup()
  blame.crashed(1, 400, ['lone'])
  let settled = false
  const waiting = blame.settled(5_000).then(() => (settled = true))
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(settled, 'a run waits for the verdict of a crash still dying')
  blame.exited(400, 'SIGABRT')
  await waiting
  t.equal(quarantine.crashesOf('lone'), 1)
})

t.test('suspects nobody came back to clear are forgotten after the suspicion window', async (t) => {
  const { blame, clock } = setup()
  blame.crashed(0, 500, ['x', 'y'])
  blame.exited(500, 'SIGABRT')
  clock.now += 60_000
  blame.crashed(0, 501, [])
  t.notOk(blame.suspected('x'))
})

t.test('the probation lane lets one tenant in at a time, every waiting run of the next tenant together; a cleared tenant leaves the line', async (t) => {
  const lane = new ProbationLane({ aloneMs: 60_000 })
  t.equal(await lane.turn('a'), true)
  const b1 = lane.turn('b')
  const c1 = lane.turn('c')
  const b2 = lane.turn('b')
  const a2 = lane.turn('a')
  t.equal(lane.waiting, 4, "a's second run waits behind the others: the turn passes")
  lane.leave('c')
  t.equal(await c1, false, 'c was cleared while it waited: it runs on its own runner')
  lane.done('a')
  t.same(await Promise.all([b1, b2]), [true, true], "b's runs go in together")
  t.equal(lane.waiting, 1)
  lane.done('b')
  lane.done('b')
  t.equal(await a2, true)
  t.throws(() => lane.done('b'), /is not inside/)
  t.equal(lane.admitted, 4)
})

t.test('a tenant inside the probation lane for aloneMs lets the next one in beside it', async (t) => {
  const lane = new ProbationLane({ aloneMs: 20 })
  // The clock starts as the slow one goes in, before any assertion's own time.
  const slowIn = await lane.turn('slow')
  const started = performance.now()
  t.equal(slowIn, true)
  t.equal(await lane.turn('quick'), true)
  t.ok(performance.now() - started >= 15, 'after the slow one had it alone for aloneMs')
  lane.done('quick')
  lane.done('slow')
  t.equal(lane.waiting, 0)
})

t.test("a crash's prime suspect (its oldest run in flight) goes onto probation alone; the other suspects go in together, first; a group that crashes again has a prime of its own", async (t) => {
  const { blame, quarantine } = setup()
  blame.crashed(0, 300, ['bomb', 'a', 'b'])
  blame.exited(300, 'SIGABRT')
  t.ok(blame.mustBeAlone('bomb'), 'the tenant listed first had the oldest run in flight')
  t.notOk(blame.mustBeAlone('a'))
  t.notOk(blame.mustBeAlone('b'))
  const lane = new ProbationLane({ aloneMs: 60_000, mustBeAlone: (tenantId) => blame.mustBeAlone(tenantId) })
  // The runs a crash sends back arrive in one turn, the prime suspect's first.
  let bombIn = false
  const bomb = lane.turn('bomb').then((turn) => (bombIn = turn))
  const [a, b1, b2] = await Promise.all([lane.turn('a'), lane.turn('b'), lane.turn('b')])
  t.same([a, b1, b2], [true, true, true], 'a and b went in together')
  t.notOk(lane.alone('a'))
  t.equal(lane.waiting, 1)
  t.notOk(bombIn, 'the prime suspect waits for the group to leave')
  blame.ranClean('a')
  lane.done('a')
  t.notOk(bombIn)
  blame.ranClean('b')
  for (let i = 0; i < 2; i++) lane.done('b')
  t.equal(await bomb, true)
  t.ok(lane.alone('bomb'), 'the prime suspect is alone on the probation runner')
  t.equal(lane.admitted, 4)

  // A group of lesser suspects that crashes the probation runner: a new crash, its own prime goes alone.
  blame.crashed(2, 301, ['c', 'd', 'e'])
  t.ok(blame.mustBeAlone('c'))
  t.notOk(blame.mustBeAlone('d'))
  blame.exited(301, 'SIGABRT')
  t.equal(quarantine.crashesOf('c'), 0, 'nobody is convicted by a crash in a group')
  lane.done('bomb')
  blame.crashed(2, 302, ['bomb'])
  blame.exited(302, 'SIGABRT')
  t.equal(quarantine.crashesOf('bomb'), 2, 'alone, the prime suspect is convicted of both crashes')
  t.ok(blame.mustBeAlone('bomb'), 'with crashes held against it, it stays alone')
  t.notOk(blame.mustBeAlone('a'), 'cleared')
})

t.test('the probation lane alone: every tenant goes in alone when no one says otherwise', async (t) => {
  const lane = new ProbationLane({ aloneMs: 60_000 })
  const a = lane.turn('a')
  const b = lane.turn('b')
  t.equal(await a, true)
  t.ok(lane.alone('a'))
  let bIn = false
  void b.then(() => (bIn = true))
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(bIn, 'b waits while a is inside')
  lane.done('a')
  t.equal(await b, true)
  t.ok(lane.alone('b'))
  t.throws(() => new ProbationLane({ mustBeAlone: 'yes' as never }), { name: 'TypeError', message: /options\.mustBeAlone/ })
})

t.test('a crash, a runner that is not there or a quarantine never counts toward a circuit; a script error does', async (t) => {
  for (const code of ['RUNNER_CRASHED', 'RUNNER_UNAVAILABLE', 'TENANT_QUARANTINED', 'SCRIPT_SIBLING_LIMIT']) t.notOk(countsAgainstScript(code), code)
  for (const code of ['SCRIPT_ERROR', 'SCRIPT_TIMEOUT', 'SCRIPT_CPU_LIMIT', undefined]) t.ok(countsAgainstScript(code), String(code))
})

t.test('a circuit belongs to a version: a new version starts closed; opening and closing are reported', async (t) => {
  const clock = { now: 0 }
  const changes: CircuitChange[] = []
  const breaker = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 1000, now: () => clock.now, onChange: (c) => changes.push(c) })
  breaker.failed('s', 1)
  breaker.failed('s', 1)
  t.match(breaker.allow('s', 1), { allowed: false })
  t.match(changes, [{ key: 's', version: 1, state: 'open', reason: 'failures', until: 1000 }])
  t.same(breaker.allow('s', 2), { allowed: true }, 'version 2 is not refused for version 1')
  t.match(changes.at(-1), { state: 'closed', reason: 'new-version', version: 2 })
  breaker.failed('s', 2)
  breaker.failed('s', 2)
  clock.now = 5000
  t.same(breaker.allow('s', 2), { allowed: true }, 'the trial after the cool-down')
  breaker.succeeded('s', 2)
  t.match(changes.at(-1), { state: 'closed', reason: 'trial-succeeded' })
  t.notOk(breaker.isOpen('s'))
})
