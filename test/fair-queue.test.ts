import t from 'tap'
import { FairTaskQueue } from '../runner/process/fair-task-queue.js'
import { IsolatePool } from '../runner/index.js'
import { fetchTask } from './helpers/programs.js'

const drain = (queue: FairTaskQueue<string>, held?: (lane: string) => boolean): string[] => {
  const names: string[] = []
  for (let next = queue.shift(held); next !== null; next = queue.shift(held)) names.push(next)
  return names
}

t.test('the queue serves tenants round-robin, each in arrival order', async (t) => {
  const queue = new FairTaskQueue<string>()
  for (const name of ['a1', 'a2', 'a3', 'b1', 'a4', 'c1', 'b2']) queue.push(name, name[0] as string)
  t.equal(queue.size, 7)
  t.same(drain(queue), ['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4'], "no tenant waits behind another one's backlog")
  t.equal(queue.size, 0)
})

t.test('held lanes are passed over and keep their turn; one lane may be taken from out of turn', async (t) => {
  const queue = new FairTaskQueue<string>()
  for (const name of ['a1', 'a2', 'b1', 'b2', 'c1']) queue.push(name, name[0] as string)
  t.same(drain(queue, (lane) => lane === 'a'), ['b1', 'c1', 'b2'], "a held tenant's runs wait")
  t.equal(queue.size, 2)
  queue.push('c2', 'c')
  t.equal(queue.shiftLane('a'), 'a1', 'out of turn, oldest first')
  t.equal(queue.shiftLane('b'), null, 'an empty lane gives nothing')
  t.same(drain(queue), ['a2', 'c2'], 'the lane taken from kept its place at the front')
  t.equal(queue.size, 0)
})

t.test('on a real worker thread, a quiet tenant\'s run overtakes a flooding tenant\'s backlog', async (t) => {
  const pool = new IsolatePool({ threads: 1, concurrentTasksPerWorker: 1 })
  t.teardown(() => pool.close())
  const busy = `export default { fetch() { const end = Date.now() + 25; while (Date.now() < end); return new Response('flood') } }`
  const quiet = `export default { fetch() { return new Response('quiet') } }`
  // Warm both isolates so compile time does not decide the order.
  await Promise.all([pool.run(fetchTask('flooder', busy)), pool.run(fetchTask('quiet', quiet))])
  const finished: string[] = []
  const runs = Array.from({ length: 20 }, () => pool.run(fetchTask('flooder', busy)).then(() => finished.push('flooder')))
  runs.push(pool.run(fetchTask('quiet', quiet)).then(() => finished.push('quiet')))
  await Promise.all(runs)
  // The thread holds the flooder's run in flight, and the shard may have sent it the next one
  // as that slot freed; the quiet run is next after those, not after the whole backlog.
  const position = finished.indexOf('quiet') + 1
  t.ok(position <= 4, `the quiet run finished ${position} of 21 (first in, first out would make it 21)`)
})
