import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TenantIsolate } from '../runner/thread/tenant-isolate.js'
import { LimitEnforcer } from '../runner/thread/limit-enforcer.js'
import { Watchdog } from '../runner/thread/watchdog.js'
import { LIMITS, program, request } from './helpers/programs.js'
import { runArgs } from '../runner/protocol.js'
import { bridge, platform } from './helpers/main-thread-isolates.js'

// The watchdog (runner/thread/watchdog.ts) with a real tenant isolate, driven as IsolateHost.run
// drives it: watch, dispatch, await the result, stop watching.

t.test('a run that ended before its retired isolate was let go is not judged over its memory limit by a tick before the host stops watching it', async (t) => {
  const tenant = new TenantIsolate({ tenantId: 'evicted', memoryMb: 64, platform, bridge, maxPrograms: 4 })
  t.teardown(() => tenant.retire())
  const watchdog = new Watchdog({ intervalMs: 1 })
  const compiled = await tenant.program(program('evicted', `export default { fetch() { return new Response('served') } }`))
  const limits = new LimitEnforcer(LIMITS)
  const run = bridge.begin('evicted', limits)
  const stop = watchdog.watch(tenant, limits, run)
  const dispatched = tenant.starting()
  compiled.dispatch(run, 'fetch', runArgs({ kind: 'fetch', input: request({ url: 'http://watchdog.test/' }), env: {} }), 1 << 20)
  dispatched()
  // Evicted while the run is in flight (IsolateHost.evict): let go once the run is done.
  tenant.retire()
  t.equal(tenant.disposed, false, 'kept for the run in flight')
  const result = await run.result
  t.equal(tenant.disposed, true, "let go at the run's end")
  // The host stops watching only after the run's first step is back from isolated-vm's pool: under
  // load, ticks come between (CI met one in tenant-eviction.test.ts).
  await sleep(20)
  stop()
  t.equal(result.error, undefined)
  t.equal(limits.exceeded, null, 'no limit was hit: the isolate went because it was retired, after the run')
})
