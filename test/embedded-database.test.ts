import postgres from 'postgres'
import t from 'tap'
import { EmbeddedPostgres } from '../src/db/embedded-postgres.js'
import { tempFolder } from './helpers/temp.js'

// A first start creates the database (no template here, as on a user's new machine). Creating a
// cluster takes PGlite's WebAssembly memory to about 800 MiB, held until the instance that did it
// is collected (an idle server: never): the serving thread must not be the one that created it.
const MAX_RSS_MIB = 600

t.test('a new embedded database is created by a thread that ends, and served by one opened fresh', async (t) => {
  const dataDir = tempFolder(t, 'isogate-embedded-')

  const first = new EmbeddedPostgres({ dataDir })
  const url = await first.start()
  const rssMiB = process.memoryUsage().rss / 2 ** 20
  t.ok(rssMiB < MAX_RSS_MIB, `this process holds ${rssMiB.toFixed(0)} MiB after creating and serving the database (under ${MAX_RSS_MIB})`)

  const sql = postgres(url, { max: 1, onnotice: () => {} })
  await sql`CREATE TABLE kept (value text)`
  await sql`INSERT INTO kept VALUES ('written on the first start')`
  await sql.end()
  await first.stop()

  const second = new EmbeddedPostgres({ dataDir })
  const again = postgres(await second.start(), { max: 1, onnotice: () => {} })
  t.teardown(async () => {
    await again.end()
    await second.stop()
  })
  t.same(await again`SELECT value FROM kept`, [{ value: 'written on the first start' }], 'a restart opens the same database')
})

