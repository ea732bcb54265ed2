import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { databaseTargets } from './helpers/databases.js'
import { ADMIN_TOKEN, api, call, startTestIsogate } from './helpers/isogate.js'
import { OK, count, script, tenant } from './helpers/tenants.js'

for (const target of databaseTargets()) {
  t.test(`tenant operations on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl, triggerPollMs: 300, metricsToken: 'scrape-secret' })

    t.test('a script asking for more than its tenant quota is refused with 400 naming the limit and the cap', async (t) => {
      await tenant(isogate, 'capped')
      const put = await api(isogate, 'PUT', '/api/v1/tenants/capped/quota', { body: { memoryMb: 128, timeoutMs: 5000, scripts: 2, sourceBytes: 400 } })
      t.equal(put.status, 200)
      t.match(put.body, { quota: { memoryMb: 128, timeoutMs: 5000, scripts: 2, cpuMs: 30_000 }, overrides: { memoryMb: 128, timeoutMs: 5000, scripts: 2 } })
      const big = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'capped', body: { name: 'big', source: OK, http: { path: '/big' }, limits: { memoryMb: 4096 } } })
      t.equal(big.status, 400)
      t.equal(big.body.error.code, 'QUOTA_EXCEEDED')
      t.match(big.body.error.message, /memoryMb.*4096.*128/)
      t.match(big.body.error.details, { limit: 'memoryMb', requested: 4096, cap: 128 })
      const defaultCap = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'capped', body: { name: 'cpu', source: OK, http: { path: '/cpu' }, limits: { cpuMs: 900_000 } } })
      t.match(defaultCap.body.error, { code: 'QUOTA_EXCEEDED', details: { limit: 'cpuMs', cap: 30_000 } }, 'a field not set is capped by the default quota')
      const source = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'capped', body: { name: 'long', source: `${OK}\n// ${'x'.repeat(500)}`, http: { path: '/long' } } })
      t.match(source.body.error, { code: 'QUOTA_EXCEEDED', details: { limit: 'sourceBytes', cap: 400 } })
      const first = await script(isogate, 'capped', { name: 'one', http: { path: '/one' }, limits: { timeoutMs: 5000 } })
      const patch = await api(isogate, 'PATCH', `/api/v1/scripts/${first.id}`, { tenant: 'capped', body: { limits: { timeoutMs: 6000 } } })
      t.match(patch.body.error, { code: 'QUOTA_EXCEEDED', details: { limit: 'timeoutMs', requested: 6000, cap: 5000 } }, 'an update is checked too')
      await script(isogate, 'capped', { name: 'two', http: { path: '/two' } })
      const third = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'capped', body: { name: 'three', source: OK, http: { path: '/three' } } })
      t.equal(third.status, 409)
      t.match(third.body.error, { code: 'SCRIPT_QUOTA_REACHED', details: { limit: 'scripts', count: 2, cap: 2 } })

      t.test('lowering a quota below what the scripts ask for is refused, not clamped', async (t) => {
        const lower = await api(isogate, 'PUT', '/api/v1/tenants/capped/quota', { body: { memoryMb: 128, timeoutMs: 1000, scripts: 1 } })
        t.equal(lower.status, 409)
        t.equal(lower.body.error.code, 'QUOTA_BELOW_USAGE')
        t.same(lower.body.error.details.below.map((b: any) => b.limit).sort(), ['scripts', 'timeoutMs'])
        t.match(lower.body.error.details.below, [{ limit: 'scripts', used: 2, cap: 1 }, { limit: 'timeoutMs', used: 5000, cap: 1000 }])
        const read = await api(isogate, 'GET', '/api/v1/tenants/capped/quota')
        t.equal(read.body.quota.timeoutMs, 5000, 'the refused quota changed nothing')
        const viewer = await api(isogate, 'POST', '/api/v1/tenants/capped/keys', { body: { role: 'admin', name: 'a' } })
        const denied = await api(isogate, 'PUT', '/api/v1/tenants/capped/quota', { token: viewer.body.token, body: {} })
        t.equal(denied.status, 403, 'a tenant admin cannot raise its own quota')
        t.equal((await api(isogate, 'GET', '/api/v1/tenants/capped/quota', { token: viewer.body.token })).status, 200, 'but can read it')
      })

      t.test('a run of a script left to the default limits is clamped to the quota', async (t) => {
        await tenant(isogate, 'clamped')
        t.equal((await api(isogate, 'PUT', '/api/v1/tenants/clamped/quota', { body: { timeoutMs: 300 } })).status, 200)
        await script(isogate, 'clamped', { name: 'slow', http: { path: '/slow' }, source: 'export default { fetch() { return new Promise(() => {}) } }' })
        const started = Date.now()
        const response = await call(isogate, '/clamped/slow')
        t.equal(response.status, 504)
        t.equal(((await response.json()) as any).error.code, 'SCRIPT_TIMEOUT')
        t.ok(Date.now() - started < 5000, 'the 300 ms quota, not the 30 s default')
        // The clamp is kept per quota, not per script: a raised quota holds from the next run.
        t.equal((await api(isogate, 'PUT', '/api/v1/tenants/clamped/quota', { body: { timeoutMs: 1500 } })).status, 200)
        const again = Date.now()
        const raised = await call(isogate, '/clamped/slow')
        t.equal(raised.status, 504)
        t.ok(Date.now() - again >= 1400, 'the raised 1,500 ms quota')
      })
    })

    t.test('the tenant isolate is capped at the tenant memory quota, shared by its scripts: past it a run ends SCRIPT_MEMORY_LIMIT, a raised quota lets it run, a lowered one caps the live isolate again', async (t) => {
      await tenant(isogate, 'heapy')
      const quota = (memoryMb: number) => api(isogate, 'PUT', '/api/v1/tenants/heapy/quota', { body: { memoryMb } })
      t.equal((await quota(32)).status, 200)
      // About 48 MB kept at once (60 arrays of 100,000 doubles); the script's own memoryMb (16) is below
      // both quotas, so what caps the heap is the tenant's quota, not the script.
      const hog = await script(isogate, 'heapy', {
        name: 'hog',
        http: { path: '/hog' },
        limits: { memoryMb: 16, cpuMs: 10_000, timeoutMs: 20_000 },
        source: `export default { fetch(request) {
          const n = Number(new URL(request.url).searchParams.get('n') ?? 0); const keep = []
          for (let i = 0; i < n; i++) keep.push(new Array(100_000).fill(i + 0.5))
          return new Response(String(keep.length)) } }`,
      })
      t.equal(hog.limits.memoryMb, 16)
      const run = async (n: number) => {
        const response = await call(isogate, `/heapy/hog?n=${n}`)
        const text = await response.text()
        return response.status === 200 ? text : (JSON.parse(text) as any).error.code
      }
      t.equal(await run(1), '1', 'a small run is served (the isolate lives at the 32 MB quota)')
      t.equal(await run(60), 'SCRIPT_MEMORY_LIMIT', '48 MB is past the 32 MB quota')
      t.equal((await quota(128)).status, 200)
      t.equal(await run(60), '60', 'the same run fits the raised quota, though the script itself says 16 MB')
      t.equal(await run(1), '1')
      t.equal((await quota(32)).status, 200)
      t.equal(await run(60), 'SCRIPT_MEMORY_LIMIT', 'a lowered quota replaces the live 128 MB isolate at the next run')
    })

    t.test('a tenant never has more runs in flight than its concurrency quota; a tenant without one runs its requests side by side', async (t) => {
      // Module state is the script's, in its tenant's isolate: it sees how many runs overlap.
      const source = `let inFlight = 0, most = 0
        export default { async fetch() { inFlight++; most = Math.max(most, inFlight)
          await new Promise((resolve) => setTimeout(resolve, 300)); inFlight--; return new Response(String(most)) } }`
      const overlap = async (slug: string) => {
        await script(isogate, slug, { name: 'overlap', http: { path: '/overlap' }, source })
        const answers = await Promise.all(Array.from({ length: 4 }, async () => {
          const response = await call(isogate, `/${slug}/overlap`)
          t.equal(response.status, 200)
          return Number(await response.text())
        }))
        return Math.max(...answers)
      }
      await tenant(isogate, 'single')
      t.equal((await api(isogate, 'PUT', '/api/v1/tenants/single/quota', { body: { concurrency: 1 } })).status, 200)
      t.equal(await overlap('single'), 1, 'one run at a time: the others waited for a slot')
      await tenant(isogate, 'wide')
      t.ok((await overlap('wide')) > 1, 'without the quota the same requests overlap')
    })

    t.test('the data plane answers 429 TENANT_RATE_LIMITED with Retry-After past the tenant rate', async (t) => {
      await tenant(isogate, 'limited')
      await script(isogate, 'limited', { name: 'r', http: { path: '/r' } })
      t.equal((await api(isogate, 'PUT', '/api/v1/tenants/limited/quota', { body: { requestsPerSecond: 2 } })).status, 200)
      const statuses: number[] = []
      let refused: Response | null = null
      for (let i = 0; i < 6; i++) {
        const response = await call(isogate, '/limited/r')
        statuses.push(response.status)
        if (response.status === 429) refused = response
        else await response.text()
      }
      t.same(statuses.slice(0, 2), [200, 200], 'a burst of one second passes')
      t.ok(refused !== null, `then 429 (${statuses.join(',')})`)
      t.equal(refused!.headers.get('retry-after'), '1')
      t.equal(((await refused!.json()) as any).error.code, 'TENANT_RATE_LIMITED')
      await sleep(1100)
      t.equal((await call(isogate, '/limited/r')).status, 200, 'tokens come back')
    })

    t.test('ctx.db and ctx.cache stay within the tenant quota', async (t) => {
      await tenant(isogate, 'storage')
      t.equal((await api(isogate, 'PUT', '/api/v1/tenants/storage/quota', { body: { dbBytes: 3000, cacheBytes: 2000 } })).status, 200)
      await script(isogate, 'storage', {
        name: 'store',
        http: { path: '/store' },
        source: `export default { async fetch(request, env, ctx) {
          const url = new URL(request.url)
          try {
            if (url.searchParams.has('cache')) { await ctx.cache.set('k', 'x'.repeat(Number(url.searchParams.get('cache')))); return Response.json({ ok: true }) }
            const id = await ctx.db.insert('things', { pad: 'x'.repeat(900) })
            if (url.searchParams.has('shrink')) await ctx.db.update('things', url.searchParams.get('shrink'), { pad: 'y' })
            return Response.json({ ok: true, id })
          } catch (error) { return Response.json({ code: error.code, message: error.message }) }
        } }`,
      })
      const results = []
      for (let i = 0; i < 4; i++) results.push(await (await call(isogate, '/storage/store')).json())
      t.match(results.slice(0, 3), [{ ok: true }, { ok: true }, { ok: true }])
      t.match(results[3], { code: 'DB_QUOTA_EXCEEDED', message: /quota is 3000/ })
      const tenantId = (await api(isogate, 'GET', '/api/v1/tenants/storage')).body.id
      t.equal(await count(isogate, `SELECT count(*) AS n FROM documents WHERE tenant_id = '${tenantId}'`), 3, 'the refused insert rolled back')
      t.equal(await count(isogate, `SELECT db_bytes AS n FROM tenant_usage WHERE tenant_id = '${tenantId}'`), await count(isogate, `SELECT sum(bytes) AS n FROM documents WHERE tenant_id = '${tenantId}'`), 'usage is the sum of the documents')
      const lower = await api(isogate, 'PUT', '/api/v1/tenants/storage/quota', { body: { dbBytes: 1000, cacheBytes: 2000 } })
      t.match(lower.body.error, { code: 'QUOTA_BELOW_USAGE', details: { below: [{ limit: 'dbBytes', cap: 1000 }] } })
      t.match(await (await call(isogate, '/storage/store?cache=100')).json(), { ok: true })
      t.match(await (await call(isogate, '/storage/store?cache=5000')).json(), { code: 'CACHE_VALUE_TOO_LARGE', message: /cache quota is 2000/ })
    })

    t.test('tenants are listed in pages, read, renamed, and every change is audited', async (t) => {
      for (const slug of ['page-a', 'page-b', 'page-c']) await tenant(isogate, slug)
      const first = await api(isogate, 'GET', '/api/v1/tenants?limit=2')
      t.equal(first.status, 200)
      t.equal(first.body.items.length, 2)
      t.match(first.body.items[0], { slug: 'page-c', status: 'active' })
      const second = await api(isogate, 'GET', `/api/v1/tenants?limit=2&cursor=${first.body.nextCursor}`)
      t.equal(second.body.items[0].slug, 'page-a')
      const renamed = await api(isogate, 'PATCH', '/api/v1/tenants/page-a', { body: { name: 'Page A' } })
      t.match(renamed.body, { slug: 'page-a', name: 'Page A', status: 'active' })
      t.equal((await api(isogate, 'PATCH', '/api/v1/tenants/page-a', { body: { status: 'gone' } })).body.error.code, 'VALIDATION_FAILED')
      t.equal((await api(isogate, 'GET', '/api/v1/tenants/nope')).body.error.code, 'TENANT_NOT_FOUND')
      const audit = await api(isogate, 'GET', '/api/v1/audit', { tenant: 'page-a' })
      t.same(audit.body.items.map((entry: any) => entry.action), ['tenant.update', 'tenant.create'])
      const key = await api(isogate, 'POST', '/api/v1/tenants/page-a/keys', { body: { role: 'admin', name: 'own' } })
      t.equal((await api(isogate, 'GET', '/api/v1/tenants', { token: key.body.token })).status, 403, 'only a superadmin lists tenants')
      t.equal((await api(isogate, 'GET', '/api/v1/tenants/page-a', { token: key.body.token })).body.slug, 'page-a', 'a tenant key reads its own tenant')
      t.equal((await api(isogate, 'GET', '/api/v1/tenants/page-b', { token: key.body.token })).status, 404, 'and no other')
    })

    t.test('superadmin keys are listed, created with an expiry and revoked; whoami names key, role and tenant; Bearer is case-insensitive', async (t) => {
      const list = await api(isogate, 'GET', '/api/v1/keys')
      t.match(list.body.items, [{ role: 'superadmin', origin: 'env', revokedAt: null }])
      t.notOk(JSON.stringify(list.body).includes('hash'), 'no hash or token in a list')
      const created = await api(isogate, 'POST', '/api/v1/keys', { body: { name: 'ops', expiresAt: new Date(Date.now() + 1500).toISOString() } })
      t.equal(created.status, 201)
      t.match(created.body, { id: String, token: /^igk_/, role: 'superadmin', name: 'ops', expiresAt: String })
      const me = await api(isogate, 'GET', '/api/v1/whoami', { token: null, headers: { authorization: `bEaReR ${created.body.token}` } })
      t.equal(me.status, 200)
      t.match(me.body, { keyId: created.body.id, key: { id: created.body.id, name: 'ops' }, role: 'superadmin', tenant: null })
      await sleep(1600)
      t.equal((await api(isogate, 'GET', '/api/v1/whoami', { token: created.body.token })).status, 401, 'an expired key answers 401')
      t.equal((await api(isogate, 'POST', '/api/v1/keys', { body: { name: 'past', expiresAt: '2000-01-01T00:00:00Z' } })).body.error.code, 'VALIDATION_FAILED')

      const other = await api(isogate, 'POST', '/api/v1/keys', { body: { name: 'other' } })
      t.equal((await api(isogate, 'DELETE', `/api/v1/keys/${other.body.id}`)).status, 204)
      t.equal((await api(isogate, 'GET', '/api/v1/whoami', { token: other.body.token })).status, 401, 'a revoked key answers 401')
      t.equal((await api(isogate, 'DELETE', `/api/v1/keys/${other.body.id}`)).status, 404)
      const envKey = list.body.items[0].id
      const last = await api(isogate, 'DELETE', `/api/v1/keys/${envKey}`)
      t.equal(last.status, 409)
      t.equal(last.body.error.code, 'LAST_SUPERADMIN_KEY')

      await tenant(isogate, 'whoami-t')
      const viewer = await api(isogate, 'POST', '/api/v1/tenants/whoami-t/keys', { body: { role: 'viewer', name: 'v', expiresAt: new Date(Date.now() + 3_600_000).toISOString() } })
      t.match(viewer.body, { role: 'viewer', expiresAt: String })
      const tenantMe = await api(isogate, 'GET', '/api/v1/whoami', { token: null, headers: { authorization: `BEARER ${viewer.body.token}` } })
      t.match(tenantMe.body, { keyId: viewer.body.id, key: { id: viewer.body.id, name: 'v', expiresAt: String }, role: 'viewer', tenant: 'whoami-t' })
      t.equal((await api(isogate, 'GET', '/api/v1/keys', { token: viewer.body.token })).status, 403)
      t.equal((await api(isogate, 'GET', '/api/v1/whoami', { token: null, headers: { authorization: `Basic ${viewer.body.token}` } })).status, 401)
    })

    t.test('the control plane listens apart from the data plane, and /metrics needs its token when one is set', async (t) => {
      t.not(isogate.adminPort, isogate.dataPort)
      t.equal((await call(isogate, '/api/v1/whoami')).status, 404, 'the data plane does not serve the API')
      const anonymous = await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)
      t.equal(anonymous.status, 401)
      t.equal(anonymous.headers.get('www-authenticate'), 'Bearer')
      const wrong = await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      t.equal(wrong.status, 401)
      const scraped = await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`, { headers: { authorization: 'bearer scrape-secret' } })
      t.equal(scraped.status, 200)
      const text = await scraped.text()
      for (const name of ['isogate_cron_fires_total', 'isogate_event_deliveries_total', 'isogate_script_failures_total', 'isogate_admission_queue_delay_seconds_bucket', 'isogate_http_requests_total']) t.match(text, name)
      t.match(text, /isogate_http_requests_total\{tenant="limited",status="429"\} [1-9]/)
      t.match(text, /isogate_script_failures_total\{tenant="capped"|isogate_script_failures_total\{tenant="clamped",script="[0-9a-f-]{36}",code="SCRIPT_TIMEOUT"\} 2/)
    })
  })
}
