import t from 'tap'
import { AdmissionController } from '../gateway/index.js'

/** A fake clock (ms) the controller measures waits with. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1000
  return { now: () => time, advance: (ms) => void (time += ms) }
}

t.test('a fixed number of clients whose runs wait past the target is served, not shed: the queue stands, it does not grow', async (t) => {
  const time = clock()
  const admission = new AdmissionController({ perTenantConcurrency: 1, globalConcurrency: 1, queueTargetMs: 100, now: time.now })
  // 1 in flight and 20 waiting: 21 connections, each sending its next request when answered.
  t.equal(admission.admit('busy', () => {}).verdict, 'started')
  for (let i = 0; i < 20; i++) t.equal(admission.admit('busy', () => {}).verdict, 'queued')
  for (let round = 0; round < 40; round++) {
    time.advance(30)
    admission.release('busy') // the next queued run starts, having waited up to 600 ms
    t.equal(admission.admit('busy', () => {}).verdict, 'queued', `round ${round}: the client's next request waits its turn`)
  }
  t.same(admission.stats, { running: 1, queued: 20, tenants: 1 })
})

t.test('a step of new clients (many connections opening at once) is served, not shed, even while waits are over the target', async (t) => {
  const time = clock()
  const admission = new AdmissionController({ perTenantConcurrency: 1, globalConcurrency: 1, queueTargetMs: 100, now: time.now })
  admission.admit('ramp', () => {})
  // 300 connections open over 300 ms while the runner serves one run every 60 ms...
  for (let step = 0; step < 5; step++) {
    for (let i = 0; i < 60; i++) t.equal(admission.admit('ramp', () => {}).verdict, 'queued')
    time.advance(60)
    admission.release('ramp')
  }
  // ...then each sends its next request when answered.
  for (let round = 0; round < 40; round++) {
    time.advance(60)
    admission.release('ramp')
    t.equal(admission.admit('ramp', () => {}).verdict, 'queued', `round ${round}`)
  }
})

t.test('runs that wait past the target interval after interval while the queue keeps growing are shed with 429 and a Retry-After, until a run waits less again', async (t) => {
  const time = clock()
  const admission = new AdmissionController({ perTenantConcurrency: 1, globalConcurrency: 1, queueTargetMs: 100, now: time.now })
  t.equal(admission.admit('flood', () => {}).verdict, 'started')
  // Arrivals outpace the runner: 3 come for each run that finishes.
  let refused: ReturnType<AdmissionController['admit']> | null = null
  for (let step = 0; step < 100 && refused === null; step++) {
    for (let i = 0; i < 3; i++) {
      const admitted = admission.admit('flood', () => {})
      if (admitted.verdict === 'TENANT_BUSY') {
        refused = admitted
        break
      }
      t.equal(admitted.verdict, 'queued')
    }
    time.advance(60)
    admission.release('flood')
  }
  t.ok(refused !== null, 'the flood was shed once its runs waited past the target and its queue kept growing')
  t.ok((refused?.retryAfterSeconds ?? 0) >= 1, `Retry-After says how long runs wait (${refused?.retryAfterSeconds} s)`)
  const queued = admission.stats.queued
  t.ok(queued > 5 && queued < 100, `the queue stopped growing where shedding began (${queued} waiting)`)
  // The runner catches up: with no new runs the queue drains; a run that waited less than the target ends the shedding.
  while (admission.stats.queued > 0) {
    time.advance(1)
    admission.release('flood')
  }
  t.equal(admission.admit('flood', () => {}).verdict, 'queued', 'admitted again once the queue drained')
})

t.test('a shed tenant does not shed another: its lane alone refuses', async (t) => {
  const time = clock()
  const admission = new AdmissionController({ perTenantConcurrency: 1, contendedConcurrency: 1, globalConcurrency: 4, queueTargetMs: 50, now: time.now })
  admission.admit('flood', () => {})
  let shed = false
  for (let step = 0; step < 200 && !shed; step++) {
    for (let i = 0; i < 3; i++) shed ||= admission.admit('flood', () => {}).verdict === 'TENANT_BUSY'
    time.advance(40)
    admission.release('flood')
  }
  t.ok(shed, 'the flood is shed')
  t.equal(admission.admit('quiet', () => {}).verdict, 'started', 'the quiet tenant starts at once')
})

t.test('the global bound still answers OVERLOADED, and the per-tenant queue bound TENANT_BUSY', async (t) => {
  const global = new AdmissionController({ perTenantConcurrency: 1, globalConcurrency: 1, globalQueue: 1 })
  t.equal(global.admit('a', () => {}).verdict, 'started')
  t.equal(global.admit('b', () => {}).verdict, 'queued')
  t.match(global.admit('c', () => {}), { verdict: 'OVERLOADED', retryAfterSeconds: 1 })
  t.equal(global.stats.tenants, 2, 'a refused tenant leaves no lane behind')
  const tenant = new AdmissionController({ perTenantConcurrency: 1, perTenantQueue: 2, globalConcurrency: 10 })
  tenant.admit('a', () => {})
  tenant.admit('a', () => {})
  tenant.admit('a', () => {})
  t.equal(tenant.admit('a', () => {}).verdict, 'TENANT_BUSY')
})

t.test('queueTargetMs is checked', async (t) => {
  t.throws(() => new AdmissionController({ queueTargetMs: 0 }), RangeError)
  t.throws(() => new AdmissionController({ queueTargetMs: 1.5 }), TypeError)
})
