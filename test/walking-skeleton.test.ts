import t from 'tap'
import { startIsogate } from '../src/app.js'
import { testConfig } from '../config/test.js'
import { databaseTargets } from './helpers/databases.js'
import { ADMIN_TOKEN, api, call, deploy, rawRequest, startTestIsogate } from './helpers/isogate.js'
import { tempFolder } from './helpers/temp.js'

const ECHO = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    const body = request.method === 'POST' ? await request.json() : null
    return Response.json({ path: url.pathname, q: url.searchParams.get('q'), method: request.method,
      agent: request.headers.get('x-agent'), prefix: request.headers.get('x-forwarded-prefix'), body })
  },
}`

for (const target of databaseTargets()) {
  t.test(`walking skeleton on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl })

    t.test('a superadmin creates a tenant and a script; the data plane serves it at once', async (t) => {
      const tenant = await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'acme', name: 'Acme' } })
      t.equal(tenant.status, 201)
      t.match(tenant.body, { id: String, slug: 'acme', name: 'Acme' })
      const script = await api(isogate, 'POST', '/api/v1/scripts', {
        tenant: 'acme',
        body: { name: 'echo', type: 'http', source: ECHO, http: { path: '/x', methods: ['GET', 'POST'] } },
      })
      t.equal(script.status, 201)
      t.match(script.body, { id: String, name: 'echo', type: 'http', status: 'active', version: 1, http: { path: '/x', methods: ['GET', 'POST'] } })

      const get = await call(isogate, '/acme/x?q=1', { headers: { 'x-agent': 'tap' } })
      t.equal(get.status, 200)
      t.same(await get.json(), { path: '/x', q: '1', method: 'GET', agent: 'tap', prefix: '/acme', body: null })
      const post = await call(isogate, '/acme/x', { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' } })
      t.same(((await post.json()) as any).body, { n: 1 })

      const read = await api(isogate, 'GET', `/api/v1/scripts/${script.body.id}`, { tenant: 'acme' })
      t.equal(read.status, 200)
      t.equal(read.body.source, ECHO)
    })

    t.test('the script status, headers and body reach the client as the script set them', async (t) => {
      await deploy(isogate, 'shapes', '/teapot', `export default { fetch() { return new Response('short and stout', { status: 418, headers: { 'x-kind': 'teapot' } }) } }`)
      const response = await call(isogate, '/shapes/teapot')
      t.equal(response.status, 418)
      t.equal(response.headers.get('x-kind'), 'teapot')
      t.equal(await response.text(), 'short and stout')
    })

    t.test('a script with a syntax error is refused with 400 naming line and column', async (t) => {
      const response = await api(isogate, 'POST', '/api/v1/scripts', {
        tenant: 'acme',
        body: { name: 'broken', type: 'http', source: 'export default {\n  fetch() { return 1 +; }\n}', http: { path: '/broken' } },
      })
      t.equal(response.status, 400)
      t.match(response.body, { error: { code: 'SCRIPT_SYNTAX_ERROR', message: /line 2, column 23/, details: { line: 2, column: 23 } } })
      t.equal((await call(isogate, '/acme/broken')).status, 404, 'nothing was deployed')
    })

    t.test('the control plane answers 401 without a key and 400 without a tenant', async (t) => {
      const anonymous = await api(isogate, 'POST', '/api/v1/tenants', { token: null, body: { slug: 'nope', name: 'n' } })
      t.equal(anonymous.status, 401)
      t.equal(anonymous.body.error.code, 'UNAUTHORIZED')
      const wrong = await api(isogate, 'GET', '/api/v1/scripts/00000000-0000-0000-0000-000000000000', { token: 'not-a-key', tenant: 'acme' })
      t.equal(wrong.status, 401)
      const noTenant = await api(isogate, 'POST', '/api/v1/scripts', { body: { name: 'n', source: 'export default {}', http: { path: '/n' } } })
      t.equal(noTenant.status, 400)
      t.equal(noTenant.body.error.code, 'TENANT_REQUIRED')
    })

    t.test('a tenant key acts on its own tenant and cannot reach another one', async (t) => {
      const key = await api(isogate, 'POST', '/api/v1/tenants/acme/keys', { body: { role: 'developer', name: 'ci' } })
      t.equal(key.status, 201)
      t.match(key.body, { id: String, token: /^igk_/, role: 'developer' })
      const own = await api(isogate, 'POST', '/api/v1/scripts', {
        token: key.body.token,
        body: { name: 'mine', type: 'http', source: 'export default { fetch() { return new Response("mine") } }', http: { path: '/mine' } },
      })
      t.equal(own.status, 201)
      t.equal(await (await call(isogate, '/acme/mine')).text(), 'mine')
      const other = await api(isogate, 'POST', '/api/v1/scripts', {
        token: key.body.token,
        tenant: 'shapes',
        body: { name: 'theirs', source: 'export default {}', http: { path: '/theirs' } },
      })
      t.equal(other.status, 404, 'another tenant is not found, never forbidden')
    })

    t.test('unknown tenants, paths and methods get stable error codes', async (t) => {
      const unknownTenant = await call(isogate, '/nobody/x')
      t.equal(unknownTenant.status, 404)
      t.equal(((await unknownTenant.json()) as any).error.code, 'TENANT_NOT_FOUND')
      const unknownPath = await call(isogate, '/acme/nothing-here')
      t.equal(((await unknownPath.json()) as any).error.code, 'ROUTE_NOT_FOUND')
      const wrongMethod = await call(isogate, '/acme/x', { method: 'DELETE' })
      t.equal(wrongMethod.status, 405)
      t.equal(wrongMethod.headers.get('allow'), 'GET, HEAD, POST')
    })

    t.test('validation errors name the field', async (t) => {
      const response = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'acme', body: { name: 'v', type: 'http', source: 'export default {}' } })
      t.equal(response.status, 400)
      t.match(response.body.error, { code: 'VALIDATION_FAILED', message: /^http:/ })
      const taken = await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'acme', name: 'Again' } })
      t.equal(taken.status, 409)
      t.equal(taken.body.error.code, 'TENANT_EXISTS')
    })
  })
}

t.test('tenants and scripts survive a restart on the embedded database', async (t) => {
  const dataDir = tempFolder(t, 'isogate-restart-')
  const first = await startIsogate(testConfig({ dataDir }))
  await deploy(first, 'keep', '/kept', `export default { fetch() { return new Response('still here') } }`)
  await first.close()
  const second = await startIsogate(testConfig({ dataDir }))
  t.teardown(() => second.close())
  const response = await call(second, '/keep/kept')
  t.equal(response.status, 200)
  t.equal(await response.text(), 'still here')
  t.equal((await api(second, 'POST', '/api/v1/tenants', { token: ADMIN_TOKEN, body: { slug: 'keep', name: 'k' } })).status, 409)
})

t.test('with a base domain the tenant comes from the Host header and the script sees its own URL', async (t) => {
  const isogate = await startTestIsogate(t, { baseDomain: 'fn.test' })
  await deploy(isogate, 'hosty', '/where', `export default { fetch(r) { return Response.json({ url: r.url, prefix: r.headers.get('x-forwarded-prefix') }) } }`)
  const response = await rawRequest(isogate.dataPort, { path: '/where?a=1', headers: { host: 'hosty.fn.test' } })
  t.equal(response.status, 200)
  t.same(JSON.parse(response.body), { url: 'http://hosty.fn.test/where?a=1', prefix: null })
})
