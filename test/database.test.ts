import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { Database, migrate, MIGRATIONS, type Tx } from '../src/db/index.js'
import { databaseTargets } from './helpers/databases.js'

const TENANT_OWNED = ['tenants', 'api_keys', 'scripts', 'script_versions', 'http_routes', 'executions', 'documents']

for (const target of databaseTargets()) {
  t.test(`${target.name} database`, async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'isogate-db-'))
    const url = await target.createUrl()
    t.teardown(() => target.cleanup())
    const db = await Database.open({ url, dataDir })
    t.teardown(() => db.close())

    t.test('migrations are recorded once and applying them again changes nothing', async (t) => {
      const rows = await db.sql<{ version: number }[]>`SELECT version FROM isogate_migrations ORDER BY version`
      t.same(rows.map((row) => row.version), MIGRATIONS.map((m) => m.version))
      t.same(await migrate(db.sql), [], 'nothing pending')
    })

    t.test('concurrent migrators apply a new migration exactly once (advisory lock)', async (t) => {
      const extra = [...MIGRATIONS, { version: 9001, name: 'probe', sql: 'CREATE TABLE migration_probe (id int)' }]
      const results = await Promise.all([migrate(db.sql, extra), migrate(db.sql, extra)])
      t.same(results.flat(), [9001], 'one of the two applied it, the other found it done')
    })

    t.test('every tenant-owned table forces row-level security', async (t) => {
      const rows = await db.sql<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }[]>`
        SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ${db.sql(TENANT_OWNED)}`
      t.equal(rows.length, TENANT_OWNED.length)
      for (const row of rows) {
        t.ok(row.relrowsecurity && row.relforcerowsecurity, `${row.relname} enables and forces RLS`)
      }
    })

    t.test('application queries run as roles that neither own tables nor bypass RLS', async (t) => {
      const check = (tx: Tx) =>
        tx<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean; owns: boolean }[]>`
          SELECT current_user, r.rolsuper, r.rolbypassrls,
            EXISTS (SELECT FROM pg_tables WHERE tableowner = current_user AND schemaname = 'public') AS owns
          FROM pg_roles r WHERE r.rolname = current_user`
      const [app] = await db.tenant('00000000-0000-0000-0000-000000000000', check)
      const [system] = await db.system(check)
      t.match(app, { current_user: 'isogate_app', rolsuper: false, rolbypassrls: false, owns: false })
      t.match(system, { current_user: 'isogate_system', rolsuper: false, rolbypassrls: false, owns: false })
    })

    t.test('a tenant transaction sees only its own rows and cannot write another tenant', async (t) => {
      const [a, b] = await db.system((tx) => tx<{ id: string }[]>`
        INSERT INTO tenants (slug, name) VALUES ('rls-a', 'A'), ('rls-b', 'B') RETURNING id`)
      const visible = await db.tenant(a!.id, (tx) => tx<{ slug: string }[]>`SELECT slug FROM tenants`)
      t.same(visible.map((row) => row.slug), ['rls-a'])
      await t.rejects(
        db.tenant(a!.id, (tx) => tx`INSERT INTO api_keys (tenant_id, role, name, token_hash) VALUES (${b!.id}, 'viewer', 'x', 'h')`),
        /row-level security/,
      )
      const none = await db.tenant(b!.id, (tx) => tx`SELECT * FROM api_keys WHERE tenant_id = ${a!.id}`)
      t.equal(none.length, 0)
    })

    t.test('the tenant setting does not outlive its transaction', async (t) => {
      const [row] = await db.sql<{ tenant: string | null; user: string }[]>`
        SELECT nullif(current_setting('isogate.tenant_id', true), '') AS tenant, current_user AS user`
      t.equal(row!.tenant, null)
      t.not(row!.user, 'isogate_app')
    })
  })
}

t.test('the embedded database keeps its data across restarts', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'isogate-db-'))
  const first = await Database.open({ dataDir })
  await first.system((tx) => tx`INSERT INTO tenants (slug, name) VALUES ('kept', 'Kept')`)
  await first.close()
  const second = await Database.open({ dataDir })
  t.teardown(() => second.close())
  const rows = await second.system((tx) => tx<{ slug: string }[]>`SELECT slug FROM tenants`)
  t.same(rows.map((row) => row.slug), ['kept'])
})

t.test('a second process cannot open the same embedded data folder', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'isogate-db-'))
  const { writeFileSync, mkdirSync } = await import('node:fs')
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(path.join(dataDir, 'isogate.pid'), String(process.ppid))
  await t.rejects(Database.open({ dataDir }), { code: 'DATABASE_ERROR', message: /in use by process/ })
})
