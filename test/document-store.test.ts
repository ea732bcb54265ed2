import { randomUUID } from 'node:crypto'
import t from 'tap'
import { TEST_EMBEDDED_TEMPLATE } from '../config/test.js'
import { Database } from '../src/db/index.js'
import { DocumentRepository } from '../src/db/document.repository.js'
import { EventRepository } from '../src/db/event.repository.js'
import { DocumentStore, type StoredDocument } from '../src/services/document-store.js'
import { databaseTargets } from './helpers/databases.js'
import { tempFolder } from './helpers/temp.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

interface EventRow {
  type: string
  payload: any
  depth: number
  source: string
  cause_execution_id: string | null
  deliveries: number
  dropped_reason: string | null
}

for (const target of databaseTargets()) {
  t.test(`the document store on the ${target.name} database`, async (t) => {
    const url = await target.createUrl()
    t.teardown(() => target.cleanup())
    const db = await Database.open({ url, dataDir: tempFolder(t, 'isogate-docs-'), embeddedTemplate: TEST_EMBEDDED_TEMPLATE })
    t.teardown(() => db.close())
    let wakes = 0
    const parts = { db, documents: new DocumentRepository(), events: new EventRepository(), onPublished: () => wakes++ }
    const store = new DocumentStore(parts)
    const [a, b] = (await db.system((tx) => tx<Array<{ id: string }>>`
      INSERT INTO tenants (slug, name) VALUES ('docs-a', 'A'), ('docs-b', 'B') RETURNING id`)).map((row) => row.id) as [string, string]

    const eventsOf = (tenantId: string, type: string) =>
      db.system((tx) => tx<EventRow[]>`
        SELECT type, payload, depth, source, cause_execution_id, deliveries, dropped_reason FROM events
        WHERE tenant_id = ${tenantId} AND type = ${type} ORDER BY created_at, id`)
    const names = (documents: StoredDocument[]) => documents.map((doc) => doc.data.name as string).sort()
    const all = async (tenantId: string, collection: string, options: Record<string, unknown> = {}) => {
      const seen: StoredDocument[] = []
      let cursor: string | null = null
      do {
        const page: { documents: StoredDocument[]; cursor: string | null } = await store.query(tenantId, collection, { ...options, cursor })
        seen.push(...page.documents)
        cursor = page.cursor
      } while (cursor !== null)
      return seen
    }

    t.test('a document goes in, comes back, is patched and deleted', async (t) => {
      const id = await store.insert(a, 'crud', { name: 'first', total: 12.5, tags: ['x'], nested: { deep: true } })
      t.match(id, UUID)
      const got = await store.get(a, 'crud', id)
      t.same(got?.data, { name: 'first', total: 12.5, tags: ['x'], nested: { deep: true } })
      t.equal(got?.id, id)
      t.match(got, { createdAt: ISO, updatedAt: ISO })
      const updated = await store.update(a, 'crud', id, { total: 20, nested: { more: 1 } })
      t.same(updated?.data, { name: 'first', total: 20, tags: ['x'], nested: { deep: true, more: 1 } })
      t.equal(updated?.createdAt, got?.createdAt)
      t.ok(updated!.updatedAt > got!.updatedAt, 'updatedAt moves on')
      t.same((await store.get(a, 'crud', id))?.data, updated?.data)
      t.equal(await store.delete(a, 'crud', id), true)
      t.equal(await store.get(a, 'crud', id), null)
      t.equal(await store.delete(a, 'crud', id), false, 'a second delete finds nothing')
      t.equal(await store.update(a, 'crud', id, { total: 1 }), null, 'nor does an update')
    })

    t.test('ids that are not uuids answer null or false, never a database error', async (t) => {
      t.equal(await store.get(a, 'crud', 'not-a-uuid'), null)
      t.equal(await store.get(a, 'crud', "1' OR '1'='1"), null)
      t.equal(await store.update(a, 'crud', '42', { x: 1 }), null)
      t.equal(await store.delete(a, 'crud', ''), false)
      t.equal(await store.get(a, 'crud', randomUUID()), null)
    })

    t.test('two tenants writing and querying the same collection names see only their own documents', async (t) => {
      const ofA = await store.insert(a, 'orders', { name: 'a-order', total: 10 })
      const ofB = await store.insert(b, 'orders', { name: 'b-order', total: 10 })
      t.same(names((await store.query(a, 'orders')).documents), ['a-order'])
      t.same(names((await store.query(b, 'orders', { where: { total: 10 } })).documents), ['b-order'])
      t.equal(await store.get(b, 'orders', ofA), null, "B cannot read A's document by its id")
      t.equal(await store.update(b, 'orders', ofA, { total: 0 }), null, "nor patch it")
      t.equal(await store.delete(b, 'orders', ofA), false, 'nor delete it')
      const untouched = await store.get(a, 'orders', ofA)
      t.same(untouched?.data, { name: 'a-order', total: 10 }, "A's document is untouched")
      t.equal(untouched?.createdAt, untouched?.updatedAt)
      t.equal((await store.get(b, 'orders', ofB))?.data.name, 'b-order')
      t.equal(await store.get(a, 'other-collection', ofA), null, 'collections are separate too')
    })

    t.test('row-level security keeps a raw tenant transaction to its own documents', async (t) => {
      await store.insert(b, 'raw', { name: 'b-raw' })
      await store.insert(a, 'raw', { name: 'a-raw' })
      const rows = await db.tenant(a, (tx) => tx<Array<{ tenant_id: string }>>`SELECT tenant_id FROM documents`)
      t.ok(rows.length > 0)
      t.same([...new Set(rows.map((row) => row.tenant_id))], [a], 'no row of B, even without a tenant filter')
      await t.rejects(
        db.tenant(a, (tx) => tx`INSERT INTO documents (tenant_id, collection, data, bytes) VALUES (${b}, 'raw', '{}', 2)`),
        /row-level security/,
      )
      const updated = await db.tenant(a, (tx) => tx`UPDATE documents SET data = '{"name":"hijacked"}' WHERE tenant_id = ${b} RETURNING id`)
      t.equal(updated.length, 0)
      t.same(names((await store.query(b, 'raw')).documents), ['b-raw'])
    })

    t.test('injection attempts stay data', async (t) => {
      const evil = "'; DROP TABLE documents; --"
      const id = await store.insert(a, 'inject', { name: 'evil', value: evil, "it's \"quoted\"": "x') OR true --" })
      await store.insert(a, 'inject', { name: 'plain', value: 'plain' })
      const found = await store.query(a, 'inject', { where: { value: evil } })
      t.same(names(found.documents), ['evil'], 'the value matches itself and nothing else')
      t.same((await store.get(a, 'inject', id))?.data["it's \"quoted\""], "x') OR true --", 'quoted keys and values round-trip')
      t.same(names((await store.query(a, 'inject', { where: { value: { $in: [evil, "' OR 1=1 --"] } } })).documents), ['evil'])
      t.same((await store.query(a, 'inject', { where: { value: { $gt: "' OR '1'='1" } } })).documents.length, 2, 'compared as a string')

      const refused: Array<[string, Record<string, unknown>]> = [
        ['a top-level $where', { where: { $where: 'this.value == 1' } }],
        ['an unknown operator', { where: { value: { $where: 'sleep(10)' } } }],
        ['a $regex operator', { where: { value: { $regex: '.*' } } }],
        ['a key with a quote', { where: { "it's": 1 } }],
        ['a path segment with a quote and a parenthesis', { where: { "value')": 1 } }],
        ['a path with SQL', { where: { 'a.b); DROP TABLE documents; --': 1 } }],
        ['an empty path segment', { where: { 'a..b': 1 } }],
        ['a path nine deep', { where: { 'a.b.c.d.e.f.g.h.i': 1 } }],
        ['operators mixed with fields', { where: { value: { $eq: 1, other: 2 } } }],
        ['an object to compare with', { where: { value: { $gt: { a: 1 } } } }],
        ['$in without an array', { where: { value: { $in: 'abc' } } }],
        ['$exists with a string', { where: { value: { $exists: 'yes' } } }],
        ['an order by a bad path', { orderBy: "value'); --" }],
        ['three order keys', { orderBy: ['a', 'b', 'c'] }],
        ['an unknown option', { where: {}, $where: 'x' }],
        ['a forged cursor', { cursor: Buffer.from(JSON.stringify({ o: '', k: [], at: "'; DROP TABLE documents; --", id: randomUUID() })).toString('base64url') }],
        ['a cursor that is not one', { cursor: 'nonsense' }],
        ['a value with \\u0000', { where: { value: 'a\u0000b' } }],
      ]
      for (const [what, options] of refused) {
        await t.rejects(store.query(a, 'inject', options), { code: 'DB_QUERY_INVALID', status: 400 }, `${what} is refused with DB_QUERY_INVALID`)
      }
      const forgedKey = Buffer.from(JSON.stringify({ o: 'value', k: [JSON.stringify("m') OR true --")], at: '2000-01-01T00:00:00.000000Z', id: randomUUID() })).toString('base64url')
      const afterForged = await store.query(a, 'inject', { orderBy: 'value', cursor: forgedKey })
      t.same(names(afterForged.documents), ['plain'], 'a cursor key is a value to compare with, not SQL (between both values in any collation)')
      for (const collection of ["orders'; --", 'a b', '', '1orders', 'x'.repeat(65), 'ü']) {
        await t.rejects(store.insert(a, collection, { x: 1 }), { code: 'DB_COLLECTION_INVALID' }, `collection ${JSON.stringify(collection)} is refused`)
      }
      const protoId = await store.insert(a, 'inject', JSON.parse('{"name":"proto","__proto__":{"polluted":true}}'))
      const proto = await store.update(a, 'inject', protoId, JSON.parse('{"__proto__":{"more":1}}'))
      t.same(Object.getPrototypeOf(proto!.data), Object.prototype)
      t.same(JSON.stringify(proto!.data), '{"name":"proto","__proto__":{"more":1,"polluted":true}}', '__proto__ is a key like any other')
      t.equal(({} as Record<string, unknown>).polluted, undefined)
      const [count] = await db.system((tx) => tx<Array<{ n: number }>>`SELECT count(*)::int AS n FROM documents WHERE collection = 'inject'`)
      t.equal(count!.n, 3, 'the table and its rows are all still there')
    })

    t.test('every operator of the filter language', async (t) => {
      for (const doc of [
        { name: 'a', n: 1, s: 'apple', tag: 'x', nested: { k: 'v' }, arr: [1, 2] },
        { name: 'b', n: 5, s: 'banana', tag: null },
        { name: 'c', n: 10, s: 'cherry', nested: { k: 'w' } },
        { name: 'd', n: '7', s: 5 },
        { name: 'e', flag: true, n: 2.5 },
      ]) await store.insert(a, 'ops', doc)
      const match = async (where: Record<string, unknown>) => names((await store.query(a, 'ops', { where })).documents)
      t.same(await match({ n: 5 }), ['b'], 'a plain value is $eq')
      t.same(await match({ n: { $eq: 5 } }), ['b'])
      t.same(await match({ n: 5.0, s: 'banana' }), ['b'], 'fields combine with AND')
      t.same(await match({ nested: { k: 'v' } }), ['a'], 'an object is compared whole')
      t.same(await match({ 'nested.k': 'w' }), ['c'], 'dotted paths')
      t.same(await match({ 'arr.1': 2 }), ['a'], 'a number segment indexes an array')
      t.same(await match({ arr: [1, 2] }), ['a'])
      t.same(await match({ n: '7' }), ['d'], 'the string "7" is not the number 7')
      t.same(await match({ n: { $ne: 5 } }), ['a', 'c', 'd', 'e'])
      t.same(await match({ nested: { $ne: { k: 'v' } } }), ['b', 'c', 'd', 'e'], '$ne matches documents without the field')
      t.same(await match({ n: { $gt: 1 } }), ['b', 'c', 'e'], 'numbers compare with numbers only')
      t.same(await match({ n: { $gte: 5, $lt: 10 } }), ['b'], 'several operators on one field')
      t.same(await match({ n: { $lte: 5 } }), ['a', 'b', 'e'])
      t.same(await match({ n: { $lt: 100 } }), ['a', 'b', 'c', 'e'], 'the string "7" is not below 100')
      t.same(await match({ s: { $gt: 'b' } }), ['b', 'c'], 'strings compare with strings only')
      t.same(await match({ flag: { $gte: true } }), ['e'], 'booleans with booleans')
      t.same(await match({ n: { $in: [1, 10, '7'] } }), ['a', 'c', 'd'])
      t.same(await match({ n: { $in: [] } }), [], 'an empty $in matches nothing')
      t.same(await match({ tag: { $exists: true } }), ['a', 'b'], 'a field set to null exists')
      t.same(await match({ tag: { $exists: false } }), ['c', 'd', 'e'])
      t.same(await match({ tag: null }), ['b'], 'null matches an explicit null only')
      t.same(await match({ 'nested.k': { $exists: true }, n: { $gt: 1 } }), ['c'])
      t.same(await match({ missing: { $eq: { $gt: 1 } } }), [], '$eq takes an object with $ keys as a value')
    })

    t.test('orderBy and the cursor page through with inserts between pages, with no duplicates and no gaps', async (t) => {
      const original: string[] = []
      for (let i = 0; i < 9; i++) {
        await store.insert(a, 'pages', { name: `p${i}`, n: i % 3 === 0 ? 100 : i, group: i % 2 })
        original.push(`p${i}`)
      }
      // Oldest first (the default): rows inserted while paging come after the ones already there.
      const seen: string[] = []
      let page = await store.query(a, 'pages', { limit: 3 })
      seen.push(...page.documents.map((doc) => doc.data.name as string))
      t.same(seen, ['p0', 'p1', 'p2'])
      for (const extra of ['x1', 'x2']) await store.insert(a, 'pages', { name: extra, n: -1, group: 0 })
      page = await store.query(a, 'pages', { limit: 3, cursor: page.cursor })
      seen.push(...page.documents.map((doc) => doc.data.name as string))
      await store.insert(a, 'pages', { name: 'x3', n: 1000, group: 1 })
      page = await store.query(a, 'pages', { limit: 3, cursor: page.cursor })
      seen.push(...page.documents.map((doc) => doc.data.name as string))
      t.same(seen, original, 'three pages: every original document once, in insertion order')
      page = await store.query(a, 'pages', { limit: 3, cursor: page.cursor })
      t.same(page.documents.map((doc) => doc.data.name), ['x1', 'x2', 'x3'])
      t.equal(page.cursor, null, 'the last page has no cursor')

      // By a field, descending, with ties (three documents have n = 100): inserts between pages
      // that sort before the cursor are not seen, those after it are, nothing repeats.
      const byN: string[] = []
      let sorted = await store.query(a, 'pages', { orderBy: '-n', limit: 4, where: { name: { $in: original } } })
      byN.push(...sorted.documents.map((doc) => doc.data.name as string))
      await store.insert(a, 'pages', { name: 'y-high', n: 500 })
      await store.insert(a, 'pages', { name: 'y-low', n: 0 })
      const where = { name: { $in: [...original, 'y-high', 'y-low'] } }
      while (sorted.cursor !== null) {
        sorted = await store.query(a, 'pages', { orderBy: '-n', limit: 4, where, cursor: sorted.cursor })
        byN.push(...sorted.documents.map((doc) => doc.data.name as string))
      }
      t.same(byN, ['p0', 'p3', 'p6', 'p8', 'p7', 'p5', 'p4', 'p2', 'p1', 'y-low'], 'ties in insertion order; y-high sorts before the cursor')

      // Two keys in opposite directions, two documents a page.
      const mixed = await all(a, 'pages', { orderBy: [{ field: 'group', direction: 'asc' }, '-n'], limit: 2, where: { name: { $in: original } } })
      const expected = original
        .map((name) => ({ name, group: Number(name.slice(1)) % 2, n: Number(name.slice(1)) % 3 === 0 ? 100 : Number(name.slice(1)) }))
        .sort((x, y) => x.group - y.group || y.n - x.n || Number(x.name.slice(1)) - Number(y.name.slice(1)))
        .map((doc) => doc.name)
      t.same(mixed.map((doc) => doc.data.name), expected)

      const missing = await all(a, 'pages', { orderBy: 'group', limit: 5 })
      t.same(missing.slice(0, 1).map((doc) => doc.data.name), ['y-high'], 'a missing field sorts first, as null')

      const first = await store.query(a, 'pages', { orderBy: '-n', limit: 2 })
      await t.rejects(store.query(a, 'pages', { orderBy: 'n', limit: 2, cursor: first.cursor }), { code: 'DB_QUERY_INVALID', message: /another orderBy/ })
      await t.rejects(store.query(a, 'pages', { limit: 1001 }), { code: 'DB_QUERY_INVALID', message: /limit/ })
      await t.rejects(store.query(a, 'pages', { limit: 0 }), { code: 'DB_QUERY_INVALID' })
      t.equal((await store.query(a, 'pages', { limit: 1000 })).documents.length, 14)
    })

    t.test('documents and query pages keep to their size limits', async (t) => {
      const small = new DocumentStore({ ...parts, maxDocumentBytes: 1000, maxResultBytes: 2500 })
      const sized = (bytes: number, name = 'doc') => ({ name, pad: 'x'.repeat(bytes - JSON.stringify({ name, pad: '' }).length) })
      t.equal(JSON.stringify(sized(1000)).length, 1000)
      const id = await small.insert(a, 'sizes', sized(1000, 's0'))
      await t.rejects(small.insert(a, 'sizes', sized(1001)), { code: 'DB_DOCUMENT_TOO_LARGE', status: 413, details: { bytes: 1001, limit: 1000 } })
      await t.rejects(small.insert(a, 'sizes', { name: 'é'.repeat(600) }), { code: 'DB_DOCUMENT_TOO_LARGE' }, 'bytes of UTF-8, not characters')
      await t.rejects(small.update(a, 'sizes', id, { more: 'y' }), { code: 'DB_DOCUMENT_TOO_LARGE' })
      t.equal((await small.get(a, 'sizes', id))?.data.pad, sized(1000, 's0').pad, 'the failed update changed nothing')
      for (let i = 1; i < 5; i++) await small.insert(a, 'sizes', sized(1000, `s${i}`))
      const first = await small.query(a, 'sizes', { limit: 10 })
      t.equal(first.documents.length, 2, 'a page stops before its byte budget (2 x 1000 of 2500)')
      t.type(first.cursor, 'string', 'and says there is more')
      const pages = [first.documents.length]
      let cursor = first.cursor
      const seen = first.documents.map((doc) => doc.data.name)
      while (cursor !== null) {
        const page = await small.query(a, 'sizes', { limit: 10, cursor })
        pages.push(page.documents.length)
        seen.push(...page.documents.map((doc) => doc.data.name))
        cursor = page.cursor
      }
      t.same(pages, [2, 2, 1])
      t.same(seen, ['s0', 's1', 's2', 's3', 's4'])
      await store.insert(a, 'big', sized(3000))
      await t.rejects(small.query(a, 'big'), { code: 'DB_RESULT_TOO_LARGE', status: 413 }, 'a document larger than a whole page fails the query')
      t.equal((await store.query(a, 'big')).documents.length, 1)

      for (const bad of [[1, 2], 'text', 42, null, undefined, new Date(), { a: undefined }, { a: Number.NaN }, { a: 'x\u0000' }, { a: '\ud800' }, { a: () => 1 }]) {
        await t.rejects(store.insert(a, 'sizes', bad), { code: 'DB_DOCUMENT_INVALID', status: 400 }, `${String(JSON.stringify(bad))} is not a document`)
      }
      await t.rejects(store.update(a, 'sizes', id, [1]), { code: 'DB_DOCUMENT_INVALID' }, 'a patch is an object too')
      t.throws(() => new DocumentStore({ ...parts, maxDocumentBytes: 0 }), { name: 'RangeError', message: /options\.maxDocumentBytes/ })
      t.throws(() => new DocumentStore({ ...parts, maxResultBytes: 100, maxDocumentBytes: 200 }), { name: 'RangeError', message: /maxDocumentBytes must not be larger than options\.maxResultBytes/ })
      t.throws(() => new DocumentStore({ ...parts, maxLimit: '5' as unknown as number }), { name: 'TypeError', message: /options\.maxLimit/ })
    })

    t.test('an update is a JSON merge patch (RFC 7386)', async (t) => {
      const id = await store.insert(a, 'patch', { a: 1, b: { c: 2, d: 3 }, arr: [1, 2], keep: 'k' })
      const patched = await store.update(a, 'patch', id, { a: null, b: { c: 9, e: { f: 1 } }, arr: [3], added: 'x', absent: null })
      t.same(patched?.data, { b: { c: 9, d: 3, e: { f: 1 } }, arr: [3], keep: 'k', added: 'x' })
      const replaced = await store.update(a, 'patch', id, { b: 'scalar', keep: { now: 'object' } })
      t.same(replaced?.data, { b: 'scalar', arr: [3], keep: { now: 'object' }, added: 'x' })
      t.same((await store.update(a, 'patch', id, {}))?.data, replaced?.data, 'an empty patch changes nothing')
      await Promise.all([1, 2, 3, 4, 5].map((i) => store.update(a, 'patch', id, { [`k${i}`]: i })))
      const merged = await store.get(a, 'patch', id)
      t.same([1, 2, 3, 4, 5].map((i) => merged?.data[`k${i}`]), [1, 2, 3, 4, 5], 'concurrent patches are applied one after another: none is lost')
    })

    t.test('a write publishes its data-change event in the same transaction, delivered to subscribed event scripts', async (t) => {
      const [script] = await db.system((tx) => tx<Array<{ id: string }>>`
        INSERT INTO scripts (tenant_id, name, type, status, version, event_types)
        VALUES (${a}, 'on-orders', 'event', 'active', 1, ARRAY['db.orders.*']) RETURNING id`)
      const before = wakes
      const id = await store.insert(a, 'orders', { customer: 'c1', total: 120 })
      const [created] = await eventsOf(a, 'db.orders.created').then((rows) => rows.filter((row) => row.payload.id === id))
      t.match(created, { depth: 0, source: 'system', cause_execution_id: null, deliveries: 1, dropped_reason: null })
      t.same(created!.payload, { collection: 'orders', id, record: { customer: 'c1', total: 120 }, previous: null })
      const [sameTransaction] = await db.system((tx) => tx<Array<{ same: boolean }>>`
        SELECT (SELECT xmin::text FROM documents WHERE id = ${id}) = (SELECT xmin::text FROM events WHERE type = 'db.orders.created' AND payload->>'id' = ${id}::text) AS same`)
      t.equal(sameTransaction!.same, true, 'the document and its event were written by one transaction')
      const deliveries = await db.system((tx) => tx<Array<{ script_id: string; status: string }>>`
        SELECT d.script_id, d.status FROM event_deliveries d JOIN events e ON e.id = d.event_id
        WHERE e.type = 'db.orders.created' AND e.payload->>'id' = ${id}::text`)
      t.same(deliveries, [{ script_id: script!.id, status: 'pending' }])
      t.equal(wakes, before + 1, 'the dispatcher is woken after the commit')

      await store.update(a, 'orders', id, { total: 150, status: 'paid' })
      const updated = (await eventsOf(a, 'db.orders.updated')).filter((row) => row.payload.id === id)
      t.same(updated.map((row) => row.payload), [{ collection: 'orders', id, record: { customer: 'c1', total: 150, status: 'paid' }, previous: { customer: 'c1', total: 120 } }])
      await store.delete(a, 'orders', id)
      const deleted = (await eventsOf(a, 'db.orders.deleted')).filter((row) => row.payload.id === id)
      t.same(deleted.map((row) => row.payload), [{ collection: 'orders', id, record: null, previous: { customer: 'c1', total: 150, status: 'paid' } }])
      t.equal((await eventsOf(b, 'db.orders.created')).filter((row) => row.payload.id === id).length, 0, 'the event belongs to the writing tenant')

      const quiet = wakes
      await store.insert(a, 'unwatched', { x: 1 })
      t.match(await eventsOf(a, 'db.unwatched.created'), [{ deliveries: 0 }], 'stored even when nobody listens')
      t.equal(wakes, quiet, 'and nobody is woken')
      await db.system((tx) => tx`UPDATE scripts SET status = 'paused' WHERE id = ${script!.id}`)
    })

    t.test('a failed write publishes nothing, and a failed publish undoes the write', async (t) => {
      const small = new DocumentStore({ ...parts, maxDocumentBytes: 100 })
      const id = await small.insert(a, 'failing', { name: 'kept' })
      const count = async () => (await eventsOf(a, 'db.failing.created')).length + (await eventsOf(a, 'db.failing.updated')).length
      const events = await count()
      await t.rejects(small.update(a, 'failing', id, { pad: 'x'.repeat(200) }), { code: 'DB_DOCUMENT_TOO_LARGE' })
      await t.rejects(small.insert(a, 'failing', { pad: 'x'.repeat(200) }), { code: 'DB_DOCUMENT_TOO_LARGE' })
      await t.rejects(small.insert(a, 'failing', [1]), { code: 'DB_DOCUMENT_INVALID' })
      t.equal(await count(), events, 'no event for a write that did not happen')

      // Take the outbox away from the app role: the event cannot be stored, so neither is the document.
      await db.sql`REVOKE INSERT ON events FROM isogate_app`
      try {
        await t.rejects(store.insert(a, 'failing', { name: 'orphan' }), /permission denied/)
        await t.rejects(store.update(a, 'failing', id, { name: 'changed' }), /permission denied/)
      } finally {
        await db.sql`GRANT INSERT ON events TO isogate_app`
      }
      t.same(names((await store.query(a, 'failing')).documents), ['kept'], 'the insert and the update rolled back with their events')
    })

    t.test('the causal depth of the writing run carries over to its event', async (t) => {
      const execution = randomUUID()
      const depthOf = async (cause: { depth: number | null; executionId: string } | undefined) => {
        const id = await store.insert(a, 'depth', { cause: cause?.depth ?? 'none' }, cause)
        const [row] = (await eventsOf(a, 'db.depth.created')).filter((event) => event.payload.id === id)
        return row!
      }
      t.match(await depthOf({ depth: 2, executionId: execution }), { depth: 3, source: 'script', cause_execution_id: execution, dropped_reason: null })
      t.match(await depthOf({ depth: null, executionId: execution }), { depth: 0, source: 'script' }, 'a run no event caused writes at depth 0')
      t.match(await depthOf(undefined), { depth: 0, source: 'system', cause_execution_id: null })
      await db.system((tx) => tx`
        INSERT INTO scripts (tenant_id, name, type, status, version, event_types)
        VALUES (${a}, 'loop', 'event', 'active', 1, ARRAY['db.depth.created'])`)
      const before = wakes
      const atLimit = await depthOf({ depth: 8, executionId: execution })
      t.match(atLimit, { depth: 9, deliveries: 0, dropped_reason: /depth limit/ }, 'past the limit the event is recorded and delivered to nobody')
      t.equal(wakes, before)
      t.match(await depthOf({ depth: 7, executionId: execution }), { depth: 8, deliveries: 1, dropped_reason: null })
      t.equal((await store.query(a, 'depth', { where: { cause: 8 } })).documents.length, 1, 'the write itself still happened')
      await t.rejects(store.insert(a, 'depth', {}, { depth: 1, executionId: 'nope' }), TypeError)
    })
  })
}
