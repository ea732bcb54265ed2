import { randomBytes } from 'node:crypto'
import t from 'tap'
import { SecretBox } from '../src/services/secret-box.js'
import { ApiKeyRepository } from '../src/db/api-key.repository.js'
import { AuditRepository } from '../src/db/audit.repository.js'
import { ExecutionRepository } from '../src/db/execution.repository.js'
import { ScriptRepository } from '../src/db/script.repository.js'
import { PERMISSIONS, ROLES, can, type Permission, type Role } from '../src/domain/auth.js'
import { ChangeFeed, ScriptService } from '../src/services/index.js'
import { databaseTargets } from './helpers/databases.js'
import { ADMIN_TOKEN, api, startTestIsogate } from './helpers/isogate.js'

const SOURCE = 'export default { fetch() { return new Response("ok") }, run(input) { return { echoed: input } } }'

/** What each role may do, as DESIGN.md states it: the test's own copy, not the code's. */
const EXPECTED: Record<Role, Permission[]> = {
  superadmin: ['scripts.read', 'scripts.create', 'scripts.update', 'scripts.delete', 'scripts.execute', 'code.execute'],
  admin: ['scripts.read', 'scripts.create', 'scripts.update', 'scripts.delete', 'scripts.execute', 'code.execute'],
  developer: ['scripts.read', 'scripts.create', 'scripts.update', 'scripts.execute'],
  viewer: ['scripts.read'],
}

t.test('the domain grants exactly the permissions DESIGN.md lists per role', async (t) => {
  for (const role of ROLES) {
    for (const permission of PERMISSIONS) {
      t.equal(can({ keyId: null, role, tenantId: role === 'superadmin' ? null : 'x' }, permission), EXPECTED[role].includes(permission), `${role} ${permission}`)
    }
  }
})

for (const target of databaseTargets()) {
  t.test(`RBAC and tenant isolation on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl })
    for (const slug of ['alpha', 'beta']) t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug, name: slug } })).status, 201)
    const tokens: Record<Role, string> = { superadmin: ADMIN_TOKEN, admin: '', developer: '', viewer: '' }
    for (const role of ['admin', 'developer', 'viewer'] as const) {
      const key = await api(isogate, 'POST', '/api/v1/tenants/alpha/keys', { body: { role, name: role } })
      t.equal(key.status, 201)
      tokens[role] = key.body.token
    }
    let n = 0
    const seed = async (tenant = 'alpha') => {
      const created = await api(isogate, 'POST', '/api/v1/scripts', { tenant, body: { name: `seed-${n}`, source: SOURCE, http: { path: `/seed-${n++}` } } })
      if (created.status !== 201) throw new Error(JSON.stringify(created.body))
      return created.body.id as string
    }
    const as = (role: Role, method: string, path: string, body?: unknown) =>
      api(isogate, method, path, { token: tokens[role], ...(role === 'superadmin' ? { tenant: 'alpha' } : {}), ...(body === undefined ? {} : { body }) })

    t.test('the full role x permission matrix through the API', async (t) => {
      const actions: Record<Permission, (role: Role) => Promise<{ status: number; body: any }>> = {
        'scripts.read': async (role) => as(role, 'GET', `/api/v1/scripts/${await seed()}`),
        'scripts.create': async (role) => as(role, 'POST', '/api/v1/scripts', { name: `by-${role}`, source: SOURCE, http: { path: `/by-${role}` } }),
        'scripts.update': async (role) => as(role, 'PATCH', `/api/v1/scripts/${await seed()}`, { env: { BY: role } }),
        'scripts.delete': async (role) => as(role, 'DELETE', `/api/v1/scripts/${await seed()}`),
        'scripts.execute': async (role) => as(role, 'POST', `/api/v1/scripts/${await seed()}/run`, { input: { role } }),
        'code.execute': async (role) => as(role, 'POST', '/api/v1/execute', { code: 'return input', input: role }),
      }
      const success: Record<Permission, number> = { 'scripts.read': 200, 'scripts.create': 201, 'scripts.update': 200, 'scripts.delete': 204, 'scripts.execute': 200, 'code.execute': 200 }
      for (const role of ROLES) {
        for (const permission of PERMISSIONS) {
          const response = await actions[permission](role)
          if (EXPECTED[role].includes(permission)) {
            t.equal(response.status, success[permission], `${role} may ${permission}`)
          } else {
            t.equal(response.status, 403, `${role} may not ${permission}`)
            t.equal(response.body.error.code, 'FORBIDDEN')
          }
        }
      }
      for (const role of ROLES) t.equal((await as(role, 'GET', '/api/v1/scripts')).status, 200, `${role} lists scripts`)
      t.equal((await as('viewer', 'GET', '/api/v1/executions')).status, 200, 'a viewer reads executions')
      t.equal((await as('developer', 'GET', '/api/v1/audit')).status, 403, 'the audit trail is for admins')
      t.equal((await as('admin', 'GET', '/api/v1/audit')).status, 200)
      t.equal((await as('developer', 'POST', '/api/v1/tenants/alpha/keys', { role: 'admin', name: 'escalate' })).status, 403, 'a developer makes no keys')
      t.equal((await as('admin', 'POST', '/api/v1/tenants', { slug: 'gamma', name: 'g' })).status, 403, 'only a superadmin makes tenants')
      const superKey = await as('admin', 'POST', '/api/v1/tenants/alpha/keys', { role: 'superadmin', name: 'up' })
      t.equal(superKey.status, 400, 'an admin cannot mint a superadmin key')
    })

    t.test('the service checks the permission again, whatever the route did', async (t) => {
      const tenant = { id: '00000000-0000-4000-8000-000000000001', slug: 'alpha', name: 'alpha', status: 'active' as const, createdAt: new Date(), updatedAt: new Date() }
      const service = new ScriptService({
        secrets: new SecretBox(randomBytes(32)),
        db: isogate.db,
        scripts: new ScriptRepository(),
        changes: new ChangeFeed(),
        maxSourceBytes: 1024,
        checker: { check: async () => t.fail('the source is never checked for a caller without the permission') as never },
      })
      const viewer = { keyId: null, role: 'viewer' as const, tenantId: tenant.id }
      const developer = { keyId: null, role: 'developer' as const, tenantId: tenant.id }
      await t.rejects(service.create(viewer, tenant, { name: 'x', source: SOURCE, http: { path: '/x' } }), { code: 'FORBIDDEN' })
      await t.rejects(service.update(viewer, tenant, tenant.id, { name: 'y' }), { code: 'FORBIDDEN' })
      await t.rejects(service.delete(developer, tenant, tenant.id), { code: 'FORBIDDEN' })
      await t.rejects(service.rollback(viewer, tenant, tenant.id, { version: 1 }), { code: 'FORBIDDEN' })
    })

    t.test("another tenant's resources answer 404 through the API, never 403", async (t) => {
      const theirs = await seed('beta')
      const run = await api(isogate, 'POST', `/api/v1/scripts/${theirs}/run`, { tenant: 'beta', body: { input: 1 } })
      t.equal(run.status, 200)
      const execution = run.body.id
      for (const role of ['admin', 'developer', 'viewer'] as const) {
        const token = tokens[role]
        const calls: Array<[string, string, unknown?]> = [
          ['GET', `/api/v1/scripts/${theirs}`],
          ['PATCH', `/api/v1/scripts/${theirs}`, { name: 'stolen' }],
          ['DELETE', `/api/v1/scripts/${theirs}`],
          ['GET', `/api/v1/scripts/${theirs}/versions`],
          ['POST', `/api/v1/scripts/${theirs}/rollback`, { version: 1 }],
          ['POST', `/api/v1/scripts/${theirs}/run`, { input: 1 }],
          ['GET', `/api/v1/executions/${execution}`],
        ]
        for (const [method, path, body] of calls) {
          const response = await api(isogate, method, path, { token, ...(body === undefined ? {} : { body }) })
          const allowed = method === 'GET' || (method === 'DELETE' ? role === 'admin' : role !== 'viewer')
          t.equal(response.status, allowed ? 404 : 403, `${role} ${method} ${path}: ${allowed ? 'not found' : 'forbidden before any lookup'}`)
        }
        const named = await api(isogate, 'GET', `/api/v1/scripts/${theirs}`, { token, tenant: 'beta' })
        t.equal(named.status, 404, `${role} naming the other tenant in X-Tenant gets 404`)
        const list = await api(isogate, 'GET', '/api/v1/executions', { token })
        t.notOk(list.body.items.some((e: any) => e.id === execution), `${role} does not list the other tenant's executions`)
      }
      t.equal((await api(isogate, 'GET', '/api/v1/tenants/beta/keys', { token: tokens.admin })).status, 404)
      t.equal((await api(isogate, 'GET', `/api/v1/scripts/${theirs}`, { tenant: 'beta' })).body.name, 'seed-' + (n - 1), 'untouched')
    })

    t.test('inside db.tenant the repositories see 0 rows of another tenant, even when asked by id', async (t) => {
      const theirs = await seed('beta')
      await api(isogate, 'POST', `/api/v1/scripts/${theirs}/run`, { tenant: 'beta', body: {} })
      const [alpha, beta] = await isogate.db.system((tx) => tx<{ id: string; slug: string }[]>`SELECT id, slug FROM tenants WHERE slug IN ('alpha', 'beta') ORDER BY slug`)
      const scripts = new ScriptRepository()
      const counts = await isogate.db.tenant(alpha!.id, async (tx) => ({
        script: await scripts.findById(tx, theirs),
        scripts: (await scripts.list(tx, beta!.id, { limit: 100 })).length,
        versions: (await scripts.listVersions(tx, theirs, { limit: 100 })).length,
        routes: (await scripts.listRoutes(tx, beta!.id)).length,
        executions: (await new ExecutionRepository().list(tx, beta!.id, { limit: 100 })).length,
        audit: (await new AuditRepository().list(tx, beta!.id, { limit: 100 })).length,
        keys: (await new ApiKeyRepository().list(tx, beta!.id)).length,
        raw: await tx<{ table: string; count: number }[]>`
          SELECT 'scripts' AS table, count(*)::int AS count FROM scripts WHERE tenant_id = ${beta!.id}
          UNION ALL SELECT 'script_versions', count(*)::int FROM script_versions WHERE tenant_id = ${beta!.id}
          UNION ALL SELECT 'executions', count(*)::int FROM executions WHERE tenant_id = ${beta!.id}
          UNION ALL SELECT 'audit_log', count(*)::int FROM audit_log WHERE tenant_id = ${beta!.id}
          UNION ALL SELECT 'api_keys', count(*)::int FROM api_keys WHERE tenant_id = ${beta!.id}`,
        updated: (await tx`UPDATE scripts SET name = 'stolen' WHERE id = ${theirs} RETURNING id`).length,
        deleted: (await tx`DELETE FROM scripts WHERE id = ${theirs} RETURNING id`).length,
      }))
      t.same(counts, { script: null, scripts: 0, versions: 0, routes: 0, executions: 0, audit: 0, keys: 0, raw: counts.raw.map((r) => ({ ...r, count: 0 })), updated: 0, deleted: 0 })
      t.equal(counts.raw.length, 5)
      await t.rejects(
        isogate.db.tenant(alpha!.id, (tx) => tx`INSERT INTO scripts (tenant_id, name, type, status, version) VALUES (${beta!.id}, 'planted', 'oneoff', 'active', 1)`),
        { code: '42501' },
        'writing a row for another tenant is refused by row-level security',
      )
      const own = await isogate.db.tenant(beta!.id, (tx) => scripts.findById(tx, theirs))
      t.equal(own?.id, theirs, 'the owner still sees it')
    })

    t.test('keys are listed without tokens and a revoked key answers 401 at once', async (t) => {
      const made = await api(isogate, 'POST', '/api/v1/tenants/alpha/keys', { token: tokens.admin, body: { role: 'viewer', name: 'temp' } })
      t.equal(made.status, 201)
      t.equal((await api(isogate, 'GET', '/api/v1/scripts', { token: made.body.token })).status, 200)
      const list = await api(isogate, 'GET', '/api/v1/tenants/alpha/keys', { token: tokens.admin })
      t.equal(list.status, 200)
      t.ok(list.body.items.some((k: any) => k.id === made.body.id && k.revokedAt === null))
      t.notOk(JSON.stringify(list.body).includes(made.body.token), 'no token in the list')
      t.notOk(JSON.stringify(list.body).includes('tokenHash'), 'no hash either')
      t.equal((await api(isogate, 'DELETE', `/api/v1/tenants/alpha/keys/${made.body.id}`, { token: tokens.developer })).status, 403)
      t.equal((await api(isogate, 'DELETE', `/api/v1/tenants/beta/keys/${made.body.id}`)).status, 404, 'the key is not in that tenant')
      t.equal((await api(isogate, 'DELETE', `/api/v1/tenants/alpha/keys/${made.body.id}`, { token: tokens.admin })).status, 204)
      const after = await api(isogate, 'GET', '/api/v1/scripts', { token: made.body.token })
      t.equal(after.status, 401)
      t.equal((await api(isogate, 'DELETE', `/api/v1/tenants/alpha/keys/${made.body.id}`, { token: tokens.admin })).body.error.code, 'KEY_NOT_FOUND')
      const relisted = await api(isogate, 'GET', '/api/v1/tenants/alpha/keys', { token: tokens.admin })
      t.ok(relisted.body.items.find((k: any) => k.id === made.body.id).revokedAt, 'the revoked key is listed with its time')
    })
  })
}
