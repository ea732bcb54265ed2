// Run before the test files (by `npm test`, and by tap as package.json `tap.before`): builds the empty, migrated
// embedded database that every test's new embedded data folder starts as a copy of
// (config/test.ts TEST_EMBEDDED_TEMPLATE). Creating a PGlite cluster and migrating it costs
// seconds of CPU, a copy a fraction of one, and the suite starts dozens of embedded databases.
// Rebuilt when the migrations change; a test that finds no template creates its database itself.
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { TEST_EMBEDDED_TEMPLATE } from '../../config/test.js'
import { Database } from '../../src/db/index.js'
import { MIGRATIONS } from '../../src/db/migrations.js'
import { rootPath } from './paths.js'

/**
 * The tests' databases hold a few rows each: 16 MB of shared buffers, not initdb's 128 MB, which
 * PGlite clears at every start (half a second of CPU, and the suite starts dozens of them).
 */
const SETTINGS = "shared_buffers = '16MB'\n"

const key = createHash('sha256')
  .update(JSON.stringify(MIGRATIONS.map((m) => [m.version, m.sql])))
  .update(SETTINGS)
  .update(readFileSync(rootPath('node_modules/@electric-sql/pglite/package.json')))
  .digest('hex')
const keyFile = path.join(TEST_EMBEDDED_TEMPLATE, 'isogate-template-key')

if (!existsSync(keyFile) || readFileSync(keyFile, 'utf8') !== key) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'isogate-template-build-'))
  const db = await Database.open({ dataDir: work })
  await db.close()
  const pgdata = path.join(work, 'pgdata')
  writeFileSync(path.join(pgdata, 'postgresql.auto.conf'), SETTINGS, { flag: 'a' })
  writeFileSync(path.join(pgdata, 'isogate-template-key'), key)
  rmSync(TEST_EMBEDDED_TEMPLATE, { recursive: true, force: true })
  renameSync(pgdata, TEST_EMBEDDED_TEMPLATE)
  rmSync(work, { recursive: true, force: true })
}
