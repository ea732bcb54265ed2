import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ExecutionHealthSource } from '../src/console/health-source.js'
import { SessionStore, csrfMatches } from '../src/console/session-store.js'
import { SYSTEM_PRINCIPAL } from '../src/domain/auth.js'
import type { Tenant } from '../src/domain/tenant.js'
import { Database } from '../src/db/index.js'
import { hashToken } from '../src/services/auth.service.js'
import { databaseTargets } from './helpers/databases.js'

for (const target of databaseTargets()) {
  t.test(`console sessions and health on the ${target.name} database`, async (t) => {
    const url = await target.createUrl()
    t.teardown(() => target.cleanup())
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'isogate-console-'))
    const db = await Database.open({ url, dataDir })
    t.teardown(() => db.close())
    // A second node on the same database (the embedded database takes one connection: there, the same one).
    const other = url === undefined ? db : await Database.open({ url, dataDir })
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

    t.test('health per minute from execution records: runs, errors by code, p50/p99 of duration and CPU, per tenant and per script', async (t) => {
      const [a, b] = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b']
      const at = (minute: number, second: number) => new Date(Date.UTC(2026, 0, 1, 10, minute, second))
      const rows: Array<[string, string, number, string | null, number]> = [
        // script, status, duration, error code, minute
        [a, 'completed', 10, null, 0],
        [a, 'completed', 20, null, 0],
        [a, 'failed', 30, 'SCRIPT_ERROR', 0],
        [a, 'timeout', 40, 'SCRIPT_TIMEOUT', 0],
        [b, 'completed', 100, null, 0],
        [a, 'completed', 50, null, 2],
        [a, 'running', 0, null, 2],
      ]
      await db.tenant(tenant!.id, async (tx) => {
        for (const [i, [script, status, duration, code, minute]] of rows.entries()) {
          await tx`INSERT INTO executions (id, tenant_id, script_id, script_version, trigger, status, error, duration_ms, cpu_ms, created_at)
            VALUES (gen_random_uuid(), ${tenant!.id}, ${script}, 1, 'manual', ${status}, ${code === null ? null : tx.json({ code, message: 'x' })}, ${duration}, ${duration / 10}, ${at(minute, i)})`
        }
      })
      const health = new ExecutionHealthSource(db)
      const scope = { id: tenant!.id, slug: 'acme', name: 'Acme', createdAt: new Date() } as Tenant
      const window = { from: at(0, 0), to: at(5, 0) }
      const perScript = await health.minutes(SYSTEM_PRINCIPAL, scope, { ...window, scriptId: a })
      t.same(perScript.map((m) => [m.minute.toISOString(), m.runs, m.errors]), [
        ['2026-01-01T10:00:00.000Z', 4, { SCRIPT_ERROR: 1, SCRIPT_TIMEOUT: 1 }],
        ['2026-01-01T10:02:00.000Z', 1, {}],
      ], 'a running run is not counted yet; minutes without runs are absent')
      t.equal(perScript[0]?.p50Ms, 25)
      t.ok(Math.abs((perScript[0]?.p99Ms ?? 0) - 39.7) < 1e-9, 'p99 interpolates like percentile_cont')
      t.equal(perScript[0]?.cpuP50Ms, 2.5)
      const perTenant = await health.minutes(SYSTEM_PRINCIPAL, scope, window)
      t.equal(perTenant[0]?.runs, 5, 'the tenant view counts every script')
      t.same(await health.minutes({ keyId: null, role: 'viewer', tenantId: tenant!.id }, scope, { from: at(3, 0), to: at(5, 0) }), [], 'a viewer may read it')
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
