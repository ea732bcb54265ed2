import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { RoundRobin, RunTable } from '../runner/run-table.js'
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

t.test('a RunTable takes keys an object would misread', async (t) => {
  const table = new RunTable<string, number>()
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) table.set(key, key.length)
  t.equal(table.size, 4)
  t.equal(table.get('__proto__'), 9)
  t.equal(table.get('constructor'), 11)
  t.notOk(table.has('valueOf'), 'nothing inherited')
  t.equal(table.delete('__proto__'), true)
  t.equal(table.size, 3)
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
