import t from 'tap'
import { TenantIsolate } from '../runner/thread/tenant-isolate.js'
import { LimitEnforcer } from '../runner/thread/limit-enforcer.js'
import { LIMITS, program, request } from './helpers/programs.js'
import { runArgs } from '../runner/protocol.js'
import { bridge, platform } from './helpers/main-thread-isolates.js'

// What a hello run allocates in its tenant's isolate. In an isolate that serves less than about a
// megabyte of allocation a second (most tenants of a busy runner), V8 gives the young generation's
// spare half back after each scavenge, and every page a run then allocates into is a page fault:
// at tenants@100 about one a run, a large part of what a run costs there (README, Benchmarks,
// sessions 30 and 40). A run's bytes are its share of those faults. Measured the way V8 counts
// them: the isolate's heap in use before and after a window of runs, windows with a scavenge in
// them left out.

const HELLO = `export default { fetch(request) { return new Response('hello') } }`
const STEP = { timeoutMs: 1000, code: 'SCRIPT_TIMEOUT' as const }

t.test("a hello run allocates under 2,750 bytes in its isolate (2,880 before its program went by number and its untaken result in a list, session 40)", async (t) => {
  const tenant = new TenantIsolate({ tenantId: 'allocation', memoryMb: 64, platform, bridge, maxPrograms: 4 })
  t.teardown(() => tenant.retire())
  const compiled = await tenant.program(program('allocation', HELLO))
  const args = runArgs({ kind: 'fetch', input: request({ url: 'http://allocation.test/items/42?q=isogate', headers: [['user-agent', 'tap'], ['accept', '*/*']] }), env: {} })
  /** `count` runs, each dispatched synchronously (as a runner does once a program's runs are known to be short) and awaited. */
  const runs = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const run = bridge.begin('allocation', new LimitEnforcer({ ...LIMITS }))
      await compiled.dispatch(run, 'fetch', args, 1 << 20, STEP)
      const result = await run.result
      if (result.error !== undefined) throw new Error(result.error.message)
    }
  }
  await runs(300)
  const perRun: number[] = []
  for (let window = 0; window < 40; window++) {
    const before = tenant.heapBytes()
    await runs(20)
    const after = tenant.heapBytes()
    if (after > before) perRun.push((after - before) / 20)
  }
  t.ok(perRun.length >= 20, `most windows had no scavenge (${perRun.length} of 40)`)
  perRun.sort((a, b) => a - b)
  const median = perRun[perRun.length >> 1] as number
  t.ok(median < 2750, `a hello run allocates ${Math.round(median)} bytes`)
})
