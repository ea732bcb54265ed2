import { Piscina } from 'piscina'
import t from 'tap'
import { FairTaskQueue, inLane } from '../runner/process/fair-task-queue.js'
import { IsolatePool } from '../runner/index.js'
import { fetchTask } from './helpers/programs.js'

type Task = Parameters<FairTaskQueue['push']>[0]
/** A queued task as piscina holds it: the message's queue options under piscina's symbol. */
const task = (lane: string, name: string): Task => {
  const message = inLane({ name }, lane) as Record<symbol, unknown>
  return { name, [Piscina.queueOptionsSymbol]: message[Piscina.queueOptionsSymbol] } as unknown as Task
}
const nameOf = (queued: Task | null): string | null => (queued as unknown as { name: string } | null)?.name ?? null
const drain = (queue: FairTaskQueue): string[] => {
  const names: string[] = []
  for (let next = queue.shift(); next !== null; next = queue.shift()) names.push(nameOf(next) as string)
  return names
}

t.test('the queue serves tenants round-robin, each in arrival order', async (t) => {
  const queue = new FairTaskQueue()
  for (const name of ['a1', 'a2', 'a3', 'b1', 'a4', 'c1', 'b2']) queue.push(task(name[0] as string, name))
  t.equal(queue.size, 7)
  t.same(drain(queue), ['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4'], "no tenant waits behind another one's backlog")
  t.equal(queue.size, 0)
})

t.test('a task handed back (unshift) is next out; remove takes a task out wherever it waits', async (t) => {
  const queue = new FairTaskQueue()
  for (const name of ['a1', 'a2', 'b1']) queue.push(task(name[0] as string, name))
  const first = queue.shift()
  t.equal(nameOf(first), 'a1')
  const second = queue.shift()
  t.equal(nameOf(second), 'b1')
  queue.unshift(second as Task) // no thread could take it: it keeps its turn
  t.equal(nameOf(queue.shift()), 'b1')
  queue.unshift(first as Task)
  queue.remove(first as Task)
  queue.remove(first as Task) // not queued any more: nothing happens
  t.equal(queue.size, 1)
  t.same(drain(queue), ['a2'])
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
  // The thread holds the flooder's run in flight, and piscina may have handed it the next one
  // as that slot freed; the quiet run is next after those, not after the whole backlog.
  const position = finished.indexOf('quiet') + 1
  t.ok(position <= 4, `the quiet run finished ${position} of 21 (first in, first out would make it 21)`)
})
