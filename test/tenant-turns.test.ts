import { setImmediate as immediate } from 'node:timers/promises'
import t from 'tap'
import { BOUNCES, TenantTurns } from '../runner/process/tenant-turns.js'

// The order a runner without worker threads starts the runs of one read (runner/process/tenant-turns.ts).

t.test("a read's runs start one tenant's after another's, each group after the answers before it left", async (t) => {
  const log: string[] = []
  const turns = new TenantTurns<string>((item) => log.push(item), () => log.push('|'))
  turns.newRead()
  turns.offer('a1', 'a')
  turns.offer('a2', 'a')
  turns.offer('b1', 'b')
  turns.offer('a3', 'a')
  turns.keepOrder('fence')
  turns.offer('c1', 'c')
  t.same(log, ['a1', 'a2'], "the first tenant's runs start at once; the rest wait")
  for (let i = 0; i < 5; i++) await immediate()
  t.same(log, ['a1', 'a2', '|', 'b1', '|', 'a3', 'fence', '|', 'c1'], 'in order, a flush before each next tenant, the fence in its place')

  // What comes in a later read, while nothing waits, starts at once: its tenant's turn is new.
  log.length = 0
  turns.newRead()
  turns.offer('d1', 'd')
  turns.keepOrder('stats')
  t.same(log, ['d1', 'stats'])

  // While runs wait, a new read's runs queue behind them, even those of the tenant whose turn it is.
  log.length = 0
  turns.newRead()
  turns.offer('e1', 'e')
  turns.offer('f1', 'f')
  turns.newRead()
  turns.offer('e2', 'e')
  t.same(log, ['e1'])
  for (let i = 0; i < 5; i++) await immediate()
  t.same(log, ['e1', '|', 'f1', '|', 'e2'])
})

t.test("the next tenant's runs start in the same turn, once the answers of the runs before them are sent", async (t) => {
  const log: string[] = []
  let turns: TenantTurns<string>
  // A run that answers a few microtasks after it starts, as a finished run's answer does (its
  // result taken, the host's run settled, the runner's send).
  const start = (item: string): void => {
    log.push(item)
    const group = turns.began()
    void Promise.resolve()
      .then(() => undefined)
      .then(() => undefined)
      .then(() => {
        log.push(`answer ${item}`)
        turns.answered(group)
      })
  }
  turns = new TenantTurns<string>(start, () => log.push('|'))
  // Queued before the read: it sees what the read's turn did.
  const seen = new Promise<string[]>((resolve) => setImmediate(() => resolve([...log])))
  turns.newRead()
  turns.offer('a1', 'a')
  turns.offer('a2', 'a')
  turns.offer('b1', 'b')
  turns.offer('c1', 'c')
  t.same(log, ['a1', 'a2'])
  t.same(await seen, ['a1', 'a2', 'answer a1', 'answer a2', '|', 'b1', 'answer b1', '|', 'c1', 'answer c1'], "each tenant's runs after the answers before them, all in the read's turn")
})

t.test('a run that waits on something else holds the next tenant for BOUNCES microtasks only', async (t) => {
  const log: string[] = []
  let turns: TenantTurns<string>
  let microtasks = 0
  let startedAt = -1
  const start = (item: string): void => {
    log.push(item)
    if (item === 'b1') startedAt = microtasks
    // a1 waits for a host call's answer: it answers in a later turn.
    const group = turns.began()
    if (item === 'a1') setTimeout(() => turns.answered(group), 50)
    else turns.answered(group)
  }
  turns = new TenantTurns<string>(start, () => log.push('|'))
  const count = (): void => {
    if (++microtasks < 10 * BOUNCES) queueMicrotask(count)
  }
  const seen = new Promise<string[]>((resolve) => setImmediate(() => resolve([...log])))
  turns.newRead()
  turns.offer('a1', 'a')
  queueMicrotask(count)
  turns.offer('b1', 'b')
  t.same(await seen, ['a1', '|', 'b1'], 'b1 started in the same turn')
  t.ok(startedAt >= BOUNCES - 2 && startedAt <= BOUNCES + 2, `after BOUNCES microtasks (${startedAt} counted alongside)`)
})
