import t from 'tap'
import { TEST_EMBEDDED_TEMPLATE } from '../config/test.js'
import { RollupHealthSource } from '../src/console/rollup-health-source.js'
import { ExecutionMinuteRepository } from '../src/db/execution-minute.repository.js'
import { ExecutionRollupRepository } from '../src/db/execution-rollup.repository.js'
import { addRun, emptyCounts, mergeCounts, summarize, type RunCounts, type RunObservation } from '../src/domain/execution-rollup.js'
import { SessionStore, csrfMatches } from '../src/console/session-store.js'
import { SYSTEM_PRINCIPAL } from '../src/domain/auth.js'
import type { Tenant } from '../src/domain/tenant.js'
import { Database } from '../src/db/index.js'
import { hashToken } from '../src/services/auth.service.js'
import { databaseTargets } from './helpers/databases.js'
import { tempFolder } from './helpers/temp.js'

for (const target of databaseTargets()) {
  t.test(`console sessions and health on the ${target.name} database`, async (t) => {
    const url = await target.createUrl()
    t.teardown(() => target.cleanup())
    const dataDir = tempFolder(t, 'isogate-console-')
    const db = await Database.open({ url, dataDir, embeddedTemplate: TEST_EMBEDDED_TEMPLATE })
    t.teardown(() => db.close())
    // A second node on the same database (the embedded database takes one connection: there, the same one).
    const other = url === undefined ? db : await Database.open({ url, dataDir, embeddedTemplate: TEST_EMBEDDED_TEMPLATE })
    if (other !== db) t.teardown(() => other.close())
    const [tenant] = await db.system((tx) => tx<Array<{ id: string }>>`INSERT INTO tenants (slug, name) VALUES ('acme', 'Acme') RETURNING id`)
    const [key] = await db.system((tx) => tx<Array<{ id: string }>>`
      INSERT INTO api_keys (tenant_id, role, name, token_hash) VALUES (${tenant!.id}, 'developer', 'dev', ${hashToken('token')}) RETURNING id`)
    const node1 = new SessionStore({ db, idleMs: 60_000 })
    const node2 = new SessionStore({ db: other, idleMs: 60_000 })

    t.test('a session started on one node is served by another, as its key, and ends everywhere on sign-out', async (t) => {
      const { token, csrfToken } = await node1.create(key!.id)
      const found = await node2.find(token)
      t.match(found, { principal: { keyId: key!.id, role: 'developer', tenantId: tenant!.id }, keyName: 'dev', csrfToken, tenantSlug: null })
      const [row] = await db.system((tx) => tx`SELECT id_hash FROM console_sessions`)
      t.not(row?.id_hash, token, 'only a hash of the cookie value is stored')
      await node2.delete(found!)
      t.equal(await node1.find(token), null, 'signed out on one node, gone on the other')
    })

    t.test('a session unused past the idle time ends; an unknown or oversized cookie finds nothing', async (t) => {
      const { token } = await node1.create(key!.id)
      t.not(await node2.find(token), null)
      await db.system((tx) => tx`UPDATE console_sessions SET last_seen_at = now() - interval '61 seconds'`)
      t.equal(await node2.find(token), null, 'idle for longer than idleMs')
      t.equal(await node1.find('not-a-session'), null)
      t.equal(await node1.find('x'.repeat(500)), null)
      t.equal(await node1.find(undefined), null)
    })

    t.test('use within the idle time keeps a session alive', async (t) => {
      const store = new SessionStore({ db, idleMs: 60_000, touchEveryMs: 1_000 })
      const { token } = await store.create(key!.id)
      await db.system((tx) => tx`UPDATE console_sessions SET last_seen_at = now() - interval '50 seconds'`)
      t.not(await store.find(token), null, 'still within the idle time; the visit renews it')
      const [row] = await db.system((tx) => tx<Array<{ age: number }>>`SELECT extract(epoch FROM now() - last_seen_at)::float AS age FROM console_sessions`)
      t.ok((row?.age ?? 99) < 5, 'last_seen_at moved to now')
    })

    t.test('revoking the key ends its sessions at the next request', async (t) => {
      const { token } = await node1.create(key!.id)
      await db.system((tx) => tx`UPDATE api_keys SET revoked_at = now() WHERE id = ${key!.id}`)
      t.equal(await node2.find(token), null)
    })

    t.test('health per minute: the rollups count every HTTP run, the records add what the rollups do not count, in the same histograms', async (t) => {
      const [a, b, c] = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-00000000000c']
      const at = (minute: number, second: number) => new Date(Date.UTC(2026, 0, 1, 10, minute, second))
      const expected = { a: emptyCounts(), tenant: emptyCounts() }
      const observe = (scriptId: string, ok: boolean, code: string | null, durationMs: number, cpuMs: number): RunObservation =>
        ({ tenantId: tenant!.id, scriptId, at: at(0, 30).getTime(), ok, code, status: ok ? 200 : 500, durationMs, cpuMs, bytesIn: 0, bytesOut: 0 })
      // Two gateway processes counted script a's HTTP runs of minute 0 (150 runs, 2 failed).
      const node1 = emptyCounts()
      const node2 = emptyCounts()
      for (let i = 0; i < 100; i++) addRun(node1, observe(a, i >= 2, i < 2 ? 'SCRIPT_ERROR' : null, 1 + (i % 40), 0.5 + (i % 7)))
      for (let i = 0; i < 50; i++) addRun(node2, observe(a, true, null, 200 + i, 3))
      const rollups = new ExecutionRollupRepository()
      await rollups.write(db, '00000000-0000-4000-8000-000000000001', [{ tenantId: tenant!.id, scriptId: a, minute: at(0, 0).getTime(), counts: node1 }])
      await rollups.write(db, '00000000-0000-4000-8000-000000000002', [{ tenantId: tenant!.id, scriptId: a, minute: at(0, 0).getTime(), counts: node2 }])
      for (const counts of [expected.a, expected.tenant]) {
        mergeCounts(counts, node1)
        mergeCounts(counts, node2)
      }
      const rows: Array<[string, string, string, number, string | null, number, boolean]> = [
        // script, trigger, status, duration (on histogram bounds: 1, 2, 5, 10 ms), error code, minute, counted for script a / the tenant
        [a, 'http', 'completed', 5, null, 0, false], // a's sampled HTTP records: the rollups already count these runs
        [a, 'http', 'failed', 10, 'SCRIPT_ERROR', 0, false],
        [a, 'manual', 'completed', 1, null, 0, true], // manual runs are never in the rollups
        [a, 'manual', 'failed', 2, 'SCRIPT_ERROR', 0, true],
        [a, 'cron', 'timeout', 10, 'SCRIPT_TIMEOUT', 0, true],
        [a, 'manual', 'running', 0, null, 0, false], // not finished
        [a, 'cron', 'skipped', 0, null, 0, false], // never ran
        [b, 'http', 'completed', 5, null, 0, true], // b has no rollup in the window: its records stand in
        [b, 'http', 'failed', 1, null, 0, true], // a failure without a code counts as UNKNOWN
        [c, 'event', 'completed', 7.5, null, 2, true],
        [a, 'manual', 'completed', 2, null, 9, false], // outside the window
      ]
      await db.tenant(tenant!.id, async (tx) => {
        for (const [i, [script, trigger, status, duration, code, minute, counted]] of rows.entries()) {
          await tx`INSERT INTO executions (id, tenant_id, script_id, script_version, trigger, status, error, duration_ms, cpu_ms, created_at)
            VALUES (gen_random_uuid(), ${tenant!.id}, ${script}, 1, ${trigger}, ${status}, ${code === null ? (status === 'failed' ? tx.json({ message: 'x' }) : null) : tx.json({ code, message: 'x' })}, ${duration}, ${duration / 2}, ${at(minute, i)})`
          if (!counted || minute !== 0) continue
          const run = { ...observe(script, status === 'completed', status === 'completed' ? null : (code ?? 'UNKNOWN'), duration, duration / 2), status: null }
          if (script === a) addRun(expected.a, run)
          addRun(expected.tenant, run)
        }
      })
      const health = new RollupHealthSource({ db, rollups, records: new ExecutionMinuteRepository() })
      const scope = { id: tenant!.id, slug: 'acme', name: 'Acme', createdAt: new Date() } as Tenant
      const window = { from: at(0, 0), to: at(5, 0) }
      const statsOf = (counts: RunCounts) => {
        const s = summarize(counts)
        return { runs: s.runs, errors: s.byCode, p50Ms: s.p50Ms, p99Ms: s.p99Ms, cpuP50Ms: s.cpuP50Ms, cpuP99Ms: s.cpuP99Ms }
      }
      const perScript = await health.minutes(SYSTEM_PRINCIPAL, scope, { ...window, scriptId: a })
      t.same(perScript.map(({ minute, ...rest }) => [minute.toISOString(), rest]), [['2026-01-01T10:00:00.000Z', statsOf(expected.a)]], "script a: both processes' rollups, plus its manual and cron records, in one minute")
      t.equal(perScript[0]?.runs, 153)
      t.same(perScript[0]?.errors, { SCRIPT_ERROR: 3, SCRIPT_TIMEOUT: 1 })
      const perTenant = await health.minutes(SYSTEM_PRINCIPAL, scope, window)
      const minute2 = emptyCounts()
      addRun(minute2, { ...observe(c, true, null, 7.5, 3.75), status: null })
      t.same(perTenant.map(({ minute, ...rest }) => [minute.toISOString(), rest]), [
        ['2026-01-01T10:00:00.000Z', statsOf(expected.tenant)],
        ['2026-01-01T10:02:00.000Z', statsOf(minute2)],
      ], 'the tenant: every script, the records of b where it has no rollup; the percentiles are the histograms of the records and rollups together')
      t.same(perTenant[0]?.errors, { SCRIPT_ERROR: 3, SCRIPT_TIMEOUT: 1, UNKNOWN: 1 })
      t.same(await health.minutes({ keyId: null, role: 'viewer', tenantId: tenant!.id }, scope, { from: at(3, 0), to: at(5, 0) }), [], 'a viewer may read it; minutes without runs are absent')
      const other = { id: '00000000-0000-4000-8000-0000000000ff', slug: 'other', name: 'Other', createdAt: new Date() } as Tenant
      await db.system((tx) => tx`INSERT INTO tenants (id, slug, name) VALUES (${other.id}, 'other', 'Other')`)
      t.same(await health.minutes(SYSTEM_PRINCIPAL, other, window), [], "another tenant sees none of acme's runs")
    })

    t.test('an expired key ends its sessions as a revoked one does', async (t) => {
      const [expiring] = await db.system((tx) => tx<Array<{ id: string }>>`
        INSERT INTO api_keys (tenant_id, role, name, token_hash, expires_at) VALUES (${tenant!.id}, 'viewer', 'temp', ${hashToken('temp')}, now() + interval '1 hour') RETURNING id`)
      const { token } = await node1.create(expiring!.id)
      t.not(await node2.find(token), null, 'valid while the key is')
      await db.system((tx) => tx`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = ${expiring!.id}`)
      t.equal(await node2.find(token), null, 'gone once the key expired')
    })

    t.test('the superadmin’s tenant choice is on the session, so every node sees it', async (t) => {
      await db.system((tx) => tx`UPDATE api_keys SET revoked_at = NULL WHERE id = ${key!.id}`)
      const { token } = await node1.create(key!.id)
      await node1.pickTenant((await node1.find(token))!, 'acme')
      t.equal((await node2.find(token))?.tenantSlug, 'acme')
    })
  })
}

t.test('CSRF tokens compare in constant time and only as equal strings', async (t) => {
  t.ok(csrfMatches('abc', 'abc'))
  t.notOk(csrfMatches('abc', 'abd'))
  t.notOk(csrfMatches('abc', 'ab'))
  t.notOk(csrfMatches('abc', undefined))
  t.notOk(csrfMatches('abc', ['abc']))
})
