import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { SessionStore, csrfMatches } from '../src/console/session-store.js'
import { Database } from '../src/db/index.js'
import { hashToken } from '../src/services/auth.service.js'
import { databaseTargets } from './helpers/databases.js'

for (const target of databaseTargets()) {
  t.test(`console sessions on the ${target.name} database`, async (t) => {
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
