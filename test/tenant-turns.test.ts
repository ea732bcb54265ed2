import { setImmediate as immediate } from 'node:timers/promises'
import t from 'tap'
import { TenantTurns } from '../runner/process/tenant-turns.js'

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
