import t from 'tap'
import { TenantIsolate } from '../runner/thread/tenant-isolate.js'
import { LimitEnforcer } from '../runner/thread/limit-enforcer.js'
import { LIMITS, program, request } from './helpers/programs.js'
import { runArgs } from '../runner/protocol.js'
import { bridge, platform } from './helpers/main-thread-isolates.js'

// A tenant isolate's own books (runner/thread/cpu-ledger.ts), read with no pool around it: which
// run the isolate's CPU is charged to when the host enters it for no run.

t.test("a program compiled while a run's heap reading is still out on isolated-vm's pool: its top-level code is charged to no run, not to the run that executed last", async (t) => {
  const tenant = new TenantIsolate({ tenantId: 'books', memoryMb: 64, platform, bridge, maxPrograms: 4 })
  t.teardown(() => tenant.retire())
  // A run that waits for ever, ended by the host as the watchdog ends one at its wall limit: the
  // platform's books go on naming it, as the run that executed last.
  const waiting = await tenant.program(program('books', `export default { async fetch() { await new Promise(() => {}) } }`, 'script-1', 1))
  const run = bridge.begin('books', new LimitEnforcer(LIMITS), undefined, tenant.cpuAccount)
  waiting.dispatch(run, 'fetch', runArgs({ kind: 'fetch', input: request({ url: 'http://books.test/' }), env: {} }), 1 << 20)
  await new Promise((resolve) => setTimeout(resolve, 20))
  run.markEnding()
  run.endEarly(new Error('over its wall-clock limit'))
  await run.result.catch(() => undefined)
  const last = tenant.cpuAccount.current()
  t.equal(last, run.cpu.slot, 'the books name the ended run, the one that executed last')
  t.not(last, 0)
  const lastBefore = tenant.cpuAccount.slotNs(last)
  const idleBefore = tenant.cpuAccount.unattributedNs()
  // What a run the watchdog ended early leaves behind (isolate-host.ts): a heap reading queued on
  // isolated-vm's pool, behind that run's code. A new program arrives before it is back.
  tenant.sampledHeapBytes(false, true)
  t.notOk(tenant.quiet, 'the reading is out')
  // Counted, not timed: on a loaded machine 40 ms of the wall clock may be far less of the CPU.
  const busy = `let sum = 0; for (let i = 0; i < 4e7; i++) sum += i
export default { fetch() { return new Response('busy ' + (sum > 0)) } }`
  await tenant.program(program('books', busy, 'script-1', 2))
  const toLast = (tenant.cpuAccount.slotNs(last) - lastBefore) / 1e6
  const toNone = (tenant.cpuAccount.unattributedNs() - idleBefore) / 1e6
  // What the ended run is charged is the two heap readings' time (about 1 ms; more on a loaded machine).
  t.ok(toNone >= 10, `the top-level loop is charged to no run: ${toNone.toFixed(1)} ms`)
  t.ok(toLast < toNone / 5, `the ended run is charged none of it: ${toLast.toFixed(1)} ms`)
  t.ok(run.cpuSinceEnd() <= 20e6, "nor does the watchdog see it run on past an ended run's 20 ms grace (watchdog.ts)")
  run.settle()
})
