import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { NameTable, RoundRobin, RunTable } from '../runner/run-table.js'
import { nodeArgs, ROOT } from './helpers/paths.js'

/** Runs test/fixtures/promotion.ts in a process of its own, with --expose-gc. */
async function promotion(kind: 'table' | 'map' | 'frames'): Promise<{ sentBytes: number; promotedBytes: number; fullGcs: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', ...nodeArgs('test/fixtures/promotion.ts'), kind], { cwd: ROOT, timeout: 60_000 })
  return JSON.parse(stdout) as { sentBytes: number; promotedBytes: number; fullGcs: number }
}

t.test('a RunTable sets, gets, deletes and counts; its values come oldest first for growing numeric keys', async (t) => {
  const table = new RunTable<number, string>()
  table.set(3, 'c').set(1, 'a').set(2, 'b')
  t.equal(table.size, 3)
  t.equal(table.get(2), 'b')
  t.ok(table.has(1))
  t.equal(table.delete(1), true)
  t.equal(table.delete(1), false, 'a second delete finds nothing')
  t.equal(table.size, 2)
  t.notOk(table.has(1))
  table.set(2, 'B')
  t.equal(table.size, 2, 'setting a key again does not count it twice')
  t.same(table.values(), ['B', 'c'])
  const values = table.values()
  table.delete(2)
  t.same(values, ['B', 'c'], 'values() is a copy: deleting while walking it is safe')
  table.clear()
  t.equal(table.size, 0)
  t.equal(table.get(3), undefined)
})

t.test('a NameTable takes keys an object would misread', async (t) => {
  const table = new NameTable<number>()
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) table.set(key, key.length)
  t.equal(table.size, 4)
  t.equal(table.get('__proto__'), 9)
  t.equal(table.get('constructor'), 11)
  t.notOk(table.has('valueOf'), 'nothing inherited')
  t.equal(table.delete('__proto__'), true)
  t.equal(table.size, 3)
})

t.test('a RunTable keeps runs in flight as ids count on past its slots, and one that outlives them all', async (t) => {
  const table = new RunTable<number, string>()
  table.set(1, 'straggler')
  const live: number[] = []
  let missed = 0
  for (let id = 2; id < 20_000; id++) {
    table.set(id, `run ${id}`)
    live.push(id)
    if (live.length > 40 && !table.delete(live.shift() as number)) missed++
    // The straggler's slot comes round again every few dozen ids: the key that lands on it waits aside.
    if (table.get(id) !== `run ${id}`) missed++
  }
  t.equal(missed, 0, 'every run found, and deleted once done')
  t.equal(table.size, 41, 'the 40 in flight and the straggler')
  t.equal(table.get(1), 'straggler', 'the straggler is still found')
  t.ok(table.has(19_999))
  t.notOk(table.has(19_000), 'a deleted id is gone')
  t.same(table.values().slice(0, 2), ['straggler', `run ${19_999 - 39}`], 'values oldest first, the straggler too')
  t.equal(table.delete(1), true)
  for (const id of live) table.delete(id)
  t.equal(table.size, 0)
})

t.test('a RunTable grows when more runs are in flight than it has slots, and finds every one', async (t) => {
  const table = new RunTable<number, number>()
  for (let id = 0; id < 5_000; id++) table.set(id, id * 2)
  t.equal(table.size, 5_000)
  let found = 0
  for (let id = 0; id < 5_000; id++) if (table.get(id) === id * 2) found++
  t.equal(found, 5_000)
  const values = table.values()
  t.equal(values.length, 5_000)
  t.ok(values.every((value, i) => value === i * 2), 'values by key')
  for (let id = 0; id < 5_000; id += 2) table.delete(id)
  t.equal(table.size, 2_500)
  t.equal(table.get(4_999), 9_998)
  t.equal(table.get(4_998), undefined)
})

t.test('a RunTable keeps a key that is no counter\'s value aside, and finds values by a test', async (t) => {
  const table = new RunTable<number, string>()
  for (const key of [-1, 1.5, Number.NaN, 2 ** 53, 7]) table.set(key, String(key))
  t.equal(table.size, 5)
  t.equal(table.get(-1), '-1')
  t.equal(table.get(1.5), '1.5')
  t.equal(table.get(Number.NaN), 'NaN')
  t.equal(table.get(2 ** 53), String(2 ** 53))
  t.equal(table.get(1), undefined, 'not 1.5')
  t.notOk(table.has(63), 'a free slot is nobody\'s: not -1\'s')
  for (let id = 100; id < 300; id++) table.set(id, 'x')
  t.equal(table.get(Number.NaN), 'NaN', 'kept aside through a growth')
  t.equal(table.find((value) => value === '1.5'), '1.5')
  t.equal(table.find((value) => value === 'none'), undefined)
  t.equal(table.delete(-1), true)
  t.equal(table.delete(-1), false)
  t.equal(table.size, 204)
  table.clear()
  t.equal(table.size, 0)
  t.equal(table.get(7), undefined)
})

t.test('RoundRobin keeps each key once, in turn, and rotates', async (t) => {
  const ready = new RoundRobin<string>()
  ready.add('a')
  ready.add('b')
  ready.add('a')
  t.equal(ready.size, 2, 'a key already in keeps its place')
  t.equal(ready.first(), 'a')
  ready.delete('a')
  ready.add('a')
  t.same(ready.keys(), ['b', 'a'], 'rotated to the back')
  ready.delete('missing')
  ready.delete('b')
  t.same(ready.keys(), ['a'])
  t.ok(ready.has('a'))
  t.notOk(ready.has('b'))
})

t.test('runs that pass through a long-lived RunTable die young; through a Map they are promoted', async (t) => {
  const [table, map] = await Promise.all([promotion('table'), promotion('map')])
  t.ok(table.promotedBytes < table.sentBytes * 0.1, `RunTable: ${table.promotedBytes} of ${table.sentBytes} bytes promoted to the old generation`)
  // The reason RunTable exists, measured in the same way: if a Node upgrade makes this fail, the Map's chain of tables is gone and Maps will do.
  t.ok(map.promotedBytes > map.sentBytes * 0.5, `Map: ${map.promotedBytes} of ${map.sentBytes} bytes promoted`)
})
