import { randomUUID } from 'node:crypto'
import path from 'node:path'
import t from 'tap'
import { TEST_EMBEDDED_TEMPLATE } from '../config/test.js'
import { Database, migrate, MIGRATIONS, type Tx } from '../src/db/index.js'
import { ExecutionRepository } from '../src/db/execution.repository.js'
import type { ExecutionRecord } from '../src/domain/execution.js'
import { databaseTargets } from './helpers/databases.js'
import { tempFolder } from './helpers/temp.js'

const TENANT_OWNED = ['tenants', 'api_keys', 'scripts', 'script_versions', 'http_routes', 'executions', 'documents']

for (const target of databaseTargets()) {
  t.test(`${target.name} database`, async (t) => {
    const dataDir = tempFolder(t, 'isogate-db-')
    const url = await target.createUrl()
    t.teardown(() => target.cleanup())
    const db = await Database.open({ url, dataDir, embeddedTemplate: TEST_EMBEDDED_TEMPLATE })
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

    t.test('execution records keep every field through the batch insert, and go with their tenant', async (t) => {
      const [tenant] = await db.system((tx) => tx<{ id: string }[]>`INSERT INTO tenants (slug, name) VALUES ('exec-batch', 'E') RETURNING id`)
      const tenantId = tenant!.id
      const at = new Date('2026-11-21T10:00:00.123Z')
      const base = { tenantId, scriptId: randomUUID(), scriptVersion: 3, trigger: 'http' as const, createdAt: at, startedAt: at, finishedAt: new Date(at.getTime() + 5) }
      const records: ExecutionRecord[] = [
        { ...base, id: randomUUID(), status: 'completed', input: { method: 'GET', url: 'http://x/a?b=1' }, output: null, logs: [], error: null,
          httpStatus: 200, durationMs: 1.25, cpuMs: 0.5, memoryBytes: 12_345_678_901, apiCalls: 2, outputBytes: 5, startKind: 'hot' },
        { ...base, id: randomUUID(), status: 'failed', input: null, output: { nested: ['x', 1, null] }, logs: [{ level: 'error', message: 'é"\\', at: 1 }] as never,
          error: { code: 'SCRIPT_ERROR', message: 'boom', line: 3, column: 7 } as never, httpStatus: null, durationMs: null, cpuMs: null, memoryBytes: null, apiCalls: null, outputBytes: null, startKind: null },
      ]
      const repository = new ExecutionRepository()
      await db.system((tx) => repository.insertMany(tx, records))
      await db.system((tx) => repository.insertMany(tx, records.slice(0, 1)))
      for (const record of records) {
        const stored = await db.tenant(tenantId, (tx) => repository.findById(tx, record.id))
        t.same(stored, record, `${record.status} record read back as written (a repeated id is ignored)`)
      }
      await db.sql`DELETE FROM tenants WHERE id = ${tenantId}`
      const [left] = await db.sql<{ count: number }[]>`SELECT count(*)::int FROM executions WHERE tenant_id = ${tenantId}`
      t.equal(left!.count, 0, "an operator's tenant delete removes its records")
    })
  })
}

t.test('the embedded database keeps its data across restarts', async (t) => {
  const dataDir = tempFolder(t, 'isogate-db-')
  const first = await Database.open({ dataDir })
  await first.system((tx) => tx`INSERT INTO tenants (slug, name) VALUES ('kept', 'Kept')`)
  await first.close()
  const second = await Database.open({ dataDir })
  t.teardown(() => second.close())
  const rows = await second.system((tx) => tx<{ slug: string }[]>`SELECT slug FROM tenants`)
  t.same(rows.map((row) => row.slug), ['kept'])
})

t.test('an embedded database that cannot start says so, and its thread and lock are gone', async (t) => {
  const dataDir = tempFolder(t, 'isogate-db-')
  const { existsSync, writeFileSync } = await import('node:fs')
  writeFileSync(path.join(dataDir, 'pgdata'), 'not a folder')
  await t.rejects(Database.open({ dataDir }), { code: 'DATABASE_ERROR', message: /did not start: it could not be created \(.*ErrnoError/ })
  t.notOk(existsSync(path.join(dataDir, 'isogate.pid')), 'the folder is free again')
})
