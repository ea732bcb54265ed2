import t from 'tap'
import { setTimeout as delay } from 'node:timers/promises'
import { IsolatePool } from '../runner/index.js'
import { SlotShares } from '../runner/process/slot-shares.js'
import { bodyText, fetchTask, tenantOnThread } from './helpers/programs.js'

t.test('a tenant under its share of the slots starts at once though every slot is taken; borrowing stops at twice the slots', async (t) => {
  const shares = new SlotShares(4)
  for (let i = 0; i < 4; i++) {
    t.ok(shares.mayStart('spinner', true), `the spinner's run ${i + 1} takes a free slot`)
    shares.start('spinner')
  }
  t.notOk(shares.mayStart('spinner', true), 'alone, a tenant uses every slot and no more')
  t.ok(shares.mayStart('victim', true), 'a tenant new to the thread is under its share (2 of 4)')
  shares.start('victim')
  shares.start('victim')
  t.notOk(shares.mayStart('victim', true), 'at its share it waits')
  t.equal(shares.onThread, 6)
  shares.wait('third')
  t.same(shares.borrowers(), ['third'], 'a waiting tenant under its share may borrow')
  t.equal(shares.share, 1, 'three tenants share four slots: one each at least')
  shares.start('third', true)
  t.same(shares.borrowers(), [])
  for (let i = 0; i < 10; i++) shares.start(`many-${i}`)
  t.equal(shares.onThread, 17)
  t.notOk(shares.mayStart('another', true), 'past twice the slots nobody borrows')
  shares.wait('another')
  t.same(shares.borrowers(), [])
})

t.test('a tenant with runs waiting starts no new run ahead of them; a free slot goes to the queue first', async (t) => {
  const shares = new SlotShares(2)
  shares.start('a')
  shares.start('a')
  shares.wait('b')
  t.notOk(shares.mayStart('b', false), "b's runs keep their order: the new one waits behind the waiting one")
  t.ok(shares.mayBorrow('b'), 'the waiting one may borrow')
  shares.leave('a')
  t.ok(shares.free, 'a slot is free')
  t.notOk(shares.mayStart('a', false), 'a free slot with runs waiting is theirs: a is at its share')
  shares.start('b', true)
  shares.leave('a')
  shares.leave('b')
  t.equal(shares.onThread, 0)
  t.equal(shares.share, 2, 'nobody left on the thread: the next tenant may take every slot')
})


const HELLO = `export default { fetch() { return new Response('hello') } }`
/** Spins in 3 ms bursts between timers until a limit ends the run: its slot is held all that while. */
const SPIN = `export default { async fetch() {
  for (;;) { const end = Date.now() + 3; while (Date.now() < end); await new Promise((resolve) => setTimeout(resolve, 0)) }
} }`
/** Issue 20: a spinning tenant may hold a co-located tenant's run no longer than this (ms). */
const TARGET_MS = 50

/** Real worker threads, shared by the tests below (a thread takes seconds to start under tsx). */
const pool = new IsolatePool({ threads: 2 })
t.teardown(() => pool.close())

t.test("a tenant spinning on every slot of its thread does not hold a co-located tenant's run: the victim is answered within the target while every spinning run is in flight", async (t) => {
  const victim = tenantOnThread(0, 'victim')
  const spinner = tenantOnThread(0, 'spinner')
  for (let i = 0; i < 3; i++) t.equal(bodyText((await pool.run(fetchTask(victim, HELLO))).response?.body), 'hello')
  // Every one of the thread's 16 slots, each run in flight until its wall limit ends it.
  let spinnerAnswers = 0
  const spinning = Array.from({ length: 16 }, () =>
    pool.run(fetchTask(spinner, SPIN, {}, { cpuMs: 1000, timeoutMs: 1200, apiCalls: 1_000_000 })).then((result) => {
      spinnerAnswers++
      return result
    }),
  )
  await delay(100)
  // One after another, as a client would: each run's wait is its own, not its siblings'.
  const waits: number[] = []
  let answeredBeside = 0
  for (let i = 0; i < 10; i++) {
    const started = performance.now()
    const result = await pool.run(fetchTask(victim, HELLO))
    waits.push(performance.now() - started)
    if (bodyText(result.response?.body) === 'hello' && spinnerAnswers === 0) answeredBeside++
  }
  waits.sort((a, b) => a - b)
  const median = waits[Math.floor(waits.length / 2)] as number
  t.equal(answeredBeside, 10, 'every victim run was answered while no spinning run had ended (they hold their slots for 1.2 s)')
  t.ok(median < TARGET_MS, `the victim's median wait ${median.toFixed(1)} ms is under ${TARGET_MS} ms (slowest ${(waits.at(-1) as number).toFixed(1)} ms)`)
  const codes = new Set((await Promise.all(spinning)).map((result) => result.error?.code))
  t.same([...codes], ['SCRIPT_TIMEOUT'], 'each spinning run ended alone at its own limit')
})

t.test('a tenant alone on its thread still has every slot: its runs are all in flight at once', async (t) => {
  const alone = tenantOnThread(1, 'alone')
  const WAIT = `export default { async fetch() { const started = Date.now(); await new Promise((resolve) => setTimeout(resolve, 300)); return new Response(String(started)) } }`
  await pool.run(fetchTask(alone, HELLO))
  const starts = (await Promise.all(Array.from({ length: 16 }, () => pool.run(fetchTask(alone, WAIT))))).map((result) => Number(bodyText(result.response?.body)))
  const spread = Math.max(...starts) - Math.min(...starts)
  t.ok(spread < 300, `all 16 runs (the thread's slots) started before the first one ended (${spread} ms apart, each waits 300 ms)`)
})
