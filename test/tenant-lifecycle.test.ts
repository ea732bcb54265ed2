import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { databaseTargets } from './helpers/databases.js'
import { liveIsolates } from './helpers/runner-isolates.js'
import pino from 'pino'
import { RouteTable, type Route } from '../gateway/index.js'
import type { Isogate } from '../src/app.js'
import { TenantRepository } from '../src/db/tenant.repository.js'
import { RouteFeed } from '../src/route-feed.js'
import { TenantDirectory } from '../src/services/tenant-directory.js'
import { api, call, startTestIsogate } from './helpers/isogate.js'
import { count, script, tenant, until } from './helpers/tenants.js'

const QUOTA = { timeoutMs: 1, cpuMs: 1, memoryMb: 8, apiCalls: 1, outputBytes: 1, sourceBytes: 1, scripts: 1, requestsPerSecond: 0, dbBytes: 1, cacheBytes: 1, concurrency: 1 }

for (const target of databaseTargets()) {
  t.test(`tenant lifecycle on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl, triggerPollMs: 300 })

    // First in the file: the runner then holds only this subtest's isolates.
    t.test('deleting or suspending a tenant disposes its isolates on the runner at once, not at the idle timeout; the other tenants keep theirs', async (t) => {
      for (const slug of ['evicted', 'napper', 'neighbour']) {
        await tenant(isogate, slug)
        await script(isogate, slug, { name: 'web', http: { path: '/web' } })
        t.equal((await call(isogate, `/${slug}/web`)).status, 200)
      }
      t.equal(await liveIsolates(isogate.adminPort), 3, 'one isolate per tenant that ran (the idle timeout is minutes away)')

      t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/evicted')).status, 204)
      t.equal(await liveIsolates(isogate.adminPort), 2, 'the deleted tenant\'s isolate is gone when DELETE answers')
      const gone = await call(isogate, '/evicted/web')
      t.equal(gone.status, 404)
      t.equal(((await gone.json()) as any).error.code, 'TENANT_NOT_FOUND')

      t.equal((await api(isogate, 'POST', '/api/v1/tenants/napper/suspend')).status, 200)
      t.equal(await liveIsolates(isogate.adminPort), 1, 'a suspended tenant\'s isolate goes too')
      const refused = await call(isogate, '/napper/web')
      t.equal(refused.status, 403)
      t.equal(((await refused.json()) as any).error.code, 'TENANT_SUSPENDED')
      t.equal(await liveIsolates(isogate.adminPort), 1, 'a refused request makes no isolate')

      t.equal((await call(isogate, '/neighbour/web')).status, 200)
      t.equal(await liveIsolates(isogate.adminPort), 1, 'the neighbour kept its isolate (no new one was made for its run)')
      t.equal((await api(isogate, 'POST', '/api/v1/tenants/napper/resume')).status, 200)
      t.equal((await call(isogate, '/napper/web')).status, 200, 'a resumed tenant starts a fresh isolate')
      t.equal(await liveIsolates(isogate.adminPort), 2)
      t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/napper')).status, 204)
      t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/neighbour')).status, 204)
      t.equal(await liveIsolates(isogate.adminPort), 0)
    })

    t.test('the data plane tells an unknown tenant, a tenant with no matching route and a suspended tenant apart, routed or not', async (t) => {
      const answer = async (path: string) => {
        const response = await call(isogate, path)
        return `${response.status} ${((await response.json()) as any).error?.code}`
      }
      t.equal(await answer('/nobody/web'), '404 TENANT_NOT_FOUND')
      await tenant(isogate, 'empty')
      t.equal(await answer('/empty/web'), '404 ROUTE_NOT_FOUND', 'a tenant with no script is known')
      const only = await script(isogate, 'empty', { name: 'only', http: { path: '/only', methods: ['GET'] } })
      t.equal(await answer('/empty/web'), '404 ROUTE_NOT_FOUND', 'a path no script serves')
      t.equal((await call(isogate, '/empty/only')).status, 200)
      t.equal((await call(isogate, '/empty/only', { method: 'DELETE' })).status, 405)
      t.equal((await api(isogate, 'PATCH', `/api/v1/scripts/${only.id}`, { tenant: 'empty', body: { status: 'paused' } })).status, 200)
      t.equal(await answer('/empty/only'), '404 ROUTE_NOT_FOUND', 'a tenant whose last route went stays known')
      t.equal((await api(isogate, 'POST', '/api/v1/tenants/empty/suspend')).status, 200)
      t.equal(await answer('/empty/web'), '403 TENANT_SUSPENDED', 'suspended, on a path no script serves')
      t.equal(await answer('/empty/only'), '403 TENANT_SUSPENDED')
      t.equal((await call(isogate, '/empty/only', { method: 'OPTIONS' })).status, 403, 'a preflight too')
      t.equal((await api(isogate, 'POST', '/api/v1/tenants/empty/resume')).status, 200)
      t.equal(await answer('/empty/web'), '404 ROUTE_NOT_FOUND')
      t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/empty')).status, 204)
      t.equal(await answer('/empty/web'), '404 TENANT_NOT_FOUND')
    })

    t.test('a route read that began before a tenant was deleted does not bring the tenant back when it lands', async (t) => {
      // A RouteFeed of its own over this database, with a read the test holds back.
      const directory = new TenantDirectory({ db: isogate.db, tenants: new TenantRepository(), defaults: QUOTA })
      await directory.load()
      const routes = new RouteTable()
      let hold = false
      let release: (value: Route[]) => void = () => {}
      const read = async (): Promise<Route[]> => (hold ? new Promise<Route[]>((resolve) => (release = resolve)) : [])
      const feed = new RouteFeed({ routes, directory, logger: pino({ level: 'silent' }), read })
      directory.subscribe((change) => feed.tenantChanged(change))
      const tenantId = await tenant(isogate, 'racer')
      await directory.refresh(tenantId)
      t.equal(routes.match('racer', 'GET', '/web').kind, 'not-found', 'known as soon as the directory knows it')
      hold = true
      const refreshing = feed.refresh(tenantId)
      const route: Route = { tenantId, tenantSlug: 'racer', method: 'GET', path: '/web', scriptId: 'x', version: 1, source: '', sourceHash: 'h', limits: {}, env: {} }
      t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/racer')).status, 204)
      await directory.refresh(tenantId)
      t.equal(routes.match('racer', 'GET', '/web').kind, 'tenant-not-found')
      release([route])
      await refreshing
      t.equal(routes.match('racer', 'GET', '/web').kind, 'tenant-not-found', 'the late read of a deleted tenant is dropped')
    })

    t.test('a tenant read that began before a suspension does not land after the read that saw it', async (t) => {
      // Another node's directory (TenantRelay refreshes it on each notification): a quota change's
      // read, held back here after it read the row, and the suspension's read right behind it.
      let hold = false
      let release: () => void = () => {}
      const db = new Proxy(isogate.db, {
        get(target, key) {
          if (key !== 'system') {
            const value: unknown = Reflect.get(target, key, target)
            return typeof value === 'function' ? value.bind(target) : value
          }
          return async (work: Parameters<typeof target.system>[0]) => {
            const read = await target.system(work)
            if (hold) {
              hold = false
              await new Promise<void>((resolve) => (release = resolve))
            }
            return read
          }
        },
      })
      const directory = new TenantDirectory({ db, tenants: new TenantRepository(), defaults: QUOTA })
      await directory.load()
      const tenantId = await tenant(isogate, 'overtaken')
      hold = true
      const early = directory.refresh(tenantId, { remote: true })
      await until(async () => !hold)
      t.equal((await api(isogate, 'POST', '/api/v1/tenants/overtaken/suspend')).status, 200)
      const late = directory.refresh(tenantId, { remote: true })
      // The early read lands last: once the late one is applied (at once, were they not queued).
      await Promise.race([late, sleep(500)])
      release()
      t.equal((await early)?.status, 'active', 'the early read saw the tenant active')
      t.equal((await late)?.status, 'suspended', 'the late read saw the suspension')
      t.equal(directory.get(tenantId)?.status, 'suspended', 'and the suspension is what this node keeps')
    })

    t.test('a suspended tenant answers 403 on the data plane, its cron and events wait, its API is read-only; resume brings all back', async (t) => {
      const tenantId = await tenant(isogate, 'sleepy')
      const http = await script(isogate, 'sleepy', { name: 'web', http: { path: '/web' } })
      const cron = await script(isogate, 'sleepy', { name: 'tick', type: 'scheduled', cron: { expression: '* * * * * *' } })
      const listener = await script(isogate, 'sleepy', { name: 'listen', type: 'event', events: { types: ['ping'] } })
      const fires = () => count(isogate, `SELECT count(*) AS n FROM executions WHERE script_id = '${cron.id}'`)
      await until(async () => (await fires()) > 0)
      t.equal((await call(isogate, '/sleepy/web')).status, 200)

      const suspended = await api(isogate, 'POST', '/api/v1/tenants/sleepy/suspend')
      t.match(suspended.body, { status: 'suspended' })
      const refused = await call(isogate, '/sleepy/web')
      t.equal(refused.status, 403)
      t.equal(((await refused.json()) as any).error.code, 'TENANT_SUSPENDED')
      const write = await api(isogate, 'PATCH', `/api/v1/scripts/${http.id}`, { tenant: 'sleepy', body: { env: { A: '1' } } })
      t.equal(write.status, 403)
      t.equal(write.body.error.code, 'TENANT_SUSPENDED')
      t.equal((await api(isogate, 'POST', '/api/v1/events', { tenant: 'sleepy', body: { type: 'ping' } })).body.error.code, 'TENANT_SUSPENDED')
      t.equal((await api(isogate, 'POST', `/api/v1/scripts/${http.id}/run`, { tenant: 'sleepy', body: {} })).body.error.code, 'TENANT_SUSPENDED')
      t.equal((await api(isogate, 'GET', `/api/v1/scripts/${http.id}`, { tenant: 'sleepy' })).status, 200, 'reads still work')
      // An event stored just before the suspension (as a run or a database trigger may): its delivery waits.
      await isogate.db.system((tx) => tx`SELECT isogate_publish_event(${tenantId}, 'ping', '{}'::jsonb, NULL, 0, 'api', NULL)`)
      await sleep(300)
      const firesAtSuspend = await fires()
      await sleep(2200)
      t.equal(await fires(), firesAtSuspend, 'no cron fire while suspended')
      t.equal(await count(isogate, `SELECT count(*) AS n FROM executions WHERE script_id = '${listener.id}'`), 0, 'no delivery while suspended')

      const resumed = await api(isogate, 'POST', '/api/v1/tenants/sleepy/resume')
      t.match(resumed.body, { status: 'active' })
      t.equal((await call(isogate, '/sleepy/web')).status, 200)
      await until(async () => (await fires()) > firesAtSuspend)
      await until(async () => (await count(isogate, `SELECT count(*) AS n FROM executions WHERE script_id = '${listener.id}'`)) === 1)
      t.pass('cron fires and the waiting delivery runs after the resume')
      const audit = await api(isogate, 'GET', '/api/v1/audit?action=tenant.suspend', { tenant: 'sleepy' })
      t.equal(audit.body.items.length, 1)
      t.equal((await api(isogate, 'PATCH', `/api/v1/scripts/${cron.id}`, { tenant: 'sleepy', body: { status: 'paused' } })).status, 200)
    })

    t.test('a deleted tenant leaves zero rows in every table, checked table by table as the system role', async (t) => {
      const tenantId = await tenant(isogate, 'doomed')
      await tenant(isogate, 'bystander')
      const bystander = await script(isogate, 'bystander', { name: 'stay', http: { path: '/stay' } })
      await api(isogate, 'PUT', '/api/v1/tenants/doomed/quota', { body: { scripts: 50 } })
      await api(isogate, 'POST', '/api/v1/tenants/doomed/keys', { body: { role: 'viewer', name: 'v' } })
      const web = await script(isogate, 'doomed', {
        name: 'web',
        http: { path: '/web' },
        source: `export default { async fetch(request, env, ctx) { await ctx.db.insert('c', { a: 1 }); await ctx.cache.set('k', 1); await ctx.events.publish('thing', {}); return new Response('ok') } }`,
      })
      await api(isogate, 'PATCH', `/api/v1/scripts/${web.id}`, { tenant: 'doomed', body: { source: `${web.source}\n` } })
      const cron = await script(isogate, 'doomed', { name: 'tick', type: 'scheduled', cron: { expression: '* * * * * *' } })
      await script(isogate, 'doomed', { name: 'listen', type: 'event', events: { types: ['thing'] } })
      t.equal((await call(isogate, '/doomed/web')).status, 200)
      await api(isogate, 'POST', '/api/v1/events', { tenant: 'doomed', body: { type: 'thing', idempotencyKey: 'once' } })
      await isogate.db.system((tx) => tx`
        INSERT INTO dead_letters (tenant_id, delivery_id, event_id, script_id, event, attempts)
        VALUES (${tenantId}, gen_random_uuid(), gen_random_uuid(), ${cron.id}, '{}', '[]')`)
      await until(async () => (await count(isogate, `SELECT count(*) AS n FROM cron_fires WHERE tenant_id = '${tenantId}'`)) > 0)
      await until(async () => (await count(isogate, `SELECT count(*) AS n FROM executions WHERE tenant_id = '${tenantId}'`)) > 2)

      const tables = await isogate.db.system((tx) => tx<Array<{ table_name: string }>>`
        SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name = 'tenant_id' AND table_name <> 'audit_log' ORDER BY table_name`)
      const rowsOf = async (table: string) => count(isogate, `SELECT count(*) AS n FROM ${table} WHERE tenant_id = '${tenantId}'`)
      const before: Record<string, number> = {}
      for (const { table_name } of tables) before[table_name] = await rowsOf(table_name)
      for (const table of ['api_keys', 'scripts', 'script_versions', 'http_routes', 'executions', 'documents', 'events', 'event_deliveries', 'event_idempotency', 'dead_letters', 'cron_fires', 'tenant_quotas', 'tenant_usage']) {
        t.ok((before[table] ?? 0) > 0, `${table} held rows of the tenant before (${before[table]})`)
      }

      const key = await api(isogate, 'POST', '/api/v1/tenants/bystander/keys', { body: { role: 'admin', name: 'a' } })
      t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/doomed', { token: key.body.token })).status, 403, 'only a superadmin deletes a tenant')
      const deleted = await api(isogate, 'DELETE', '/api/v1/tenants/doomed')
      t.equal(deleted.status, 204)
      for (const { table_name } of tables) t.equal(await rowsOf(table_name), 0, `${table_name}: no row of the deleted tenant`)
      t.equal(await count(isogate, `SELECT count(*) AS n FROM tenants WHERE id = '${tenantId}'`), 0, 'tenants: the row is gone')
      t.same(
        (await isogate.db.system((tx) => tx<Array<{ action: string }>>`SELECT action FROM audit_log WHERE tenant_id = ${tenantId} AND action LIKE 'tenant.%' ORDER BY created_at`)).map((row) => row.action),
        ['tenant.create', 'tenant.quota', 'tenant.delete'],
        'the audit trail (append-only) keeps the tenant\'s history, its deletion last',
      )
      t.equal((await call(isogate, '/doomed/web')).status, 404)
      t.equal((await api(isogate, 'GET', '/api/v1/tenants/doomed')).status, 404)
      t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/doomed')).status, 404)
      t.equal((await call(isogate, '/bystander/stay')).status, 200, 'another tenant is untouched')
      t.equal((await api(isogate, 'GET', `/api/v1/scripts/${bystander.id}`, { tenant: 'bystander' })).status, 200)
      const metrics = await (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()
      t.match(metrics, /isogate_cron_fires_total\{outcome="completed"\} [1-9]/, 'cron fires are counted by outcome')
      t.match(metrics, /isogate_http_requests_total\{tenant="bystander",status="200"\} [1-9]/)
      t.notMatch(metrics, /tenant="doomed"/, 'a deleted tenant has no series left')
    })

  })
}
