import { randomBytes } from 'node:crypto'
import t from 'tap'
import { SecretBox } from '../src/services/secret-box.js'
import { databaseTargets } from './helpers/databases.js'
import { api, call, deploy, startTestIsogate } from './helpers/isogate.js'

const SECRET = 'sk_live_abcdefghijklmnop'

t.test('a sealed secret opens only with its key, tenant and name, and detects tampering', async (t) => {
  const box = new SecretBox(randomBytes(32))
  const sealed = box.seal('tenant-a', 'API_KEY', SECRET)
  t.notMatch(sealed, SECRET)
  t.not(box.seal('tenant-a', 'API_KEY', SECRET), sealed, 'a fresh IV each time')
  t.equal(box.open('tenant-a', 'API_KEY', sealed), SECRET)
  t.throws(() => box.open('tenant-b', 'API_KEY', sealed), 'another tenant')
  t.throws(() => box.open('tenant-a', 'OTHER', sealed), 'another name')
  t.throws(() => new SecretBox(randomBytes(32)).open('tenant-a', 'API_KEY', sealed), 'another key')
  const bytes = Buffer.from(sealed.slice('isogate:sealed:v1:'.length), 'base64')
  bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 1, bytes.length - 1)
  t.throws(() => box.open('tenant-a', 'API_KEY', `isogate:sealed:v1:${bytes.toString('base64')}`), 'tampered')
  t.throws(() => new SecretBox(randomBytes(16)), RangeError)
})

for (const target of databaseTargets()) {
  t.test(`script secrets on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl })

    const source = `export default {
      async fetch(request, env, ctx) {
        console.log('using key', env.API_KEY, 'for', env.REGION)
        return Response.json({ length: env.API_KEY.length, region: env.REGION, prefix: env.API_KEY.slice(0, 8) })
      },
      async run(input, env, ctx) {
        ctx.logger.info('manual run with ' + env.API_KEY)
        return { length: env.API_KEY.length }
      },
    }`
    const script = await deploy(isogate, 'vault', '/pay', source, { env: { REGION: 'eu' }, secrets: { API_KEY: SECRET } })

    t.test('the API answers secret names, never values', async (t) => {
      t.same(script.secrets, ['API_KEY'])
      t.same(script.env, { REGION: 'eu' })
      const read = await api(isogate, 'GET', `/api/v1/scripts/${script.id}`, { tenant: 'vault' })
      const list = await api(isogate, 'GET', '/api/v1/scripts', { tenant: 'vault' })
      const audit = await api(isogate, 'GET', '/api/v1/audit', { tenant: 'vault' })
      for (const body of [read.body, list.body, audit.body]) t.notMatch(JSON.stringify(body), SECRET)
      t.same(read.body.secrets, ['API_KEY'])
    })

    t.test('the database holds the secret sealed', async (t) => {
      const [row] = await isogate.db.system((tx) => tx<Array<{ secrets: Record<string, string> }>>`SELECT secrets FROM scripts WHERE id = ${script.id}`)
      t.match(row?.secrets.API_KEY, /^isogate:sealed:v1:/)
      t.notMatch(JSON.stringify(row), SECRET)
    })

    t.test('a run sees the secret in env; its logs have it redacted', async (t) => {
      const response = await call(isogate, '/vault/pay')
      t.equal(response.status, 200)
      t.same(await response.json(), { length: SECRET.length, region: 'eu', prefix: SECRET.slice(0, 8) })
      const deadline = Date.now() + 10_000
      let logs: Array<{ message: string }> = []
      while (Date.now() < deadline && logs.length === 0) {
        const page = await api(isogate, 'GET', `/api/v1/executions?scriptId=${script.id}`, { tenant: 'vault' })
        const id = page.body.items?.[0]?.id
        if (id !== undefined) logs = (await api(isogate, 'GET', `/api/v1/executions/${id}`, { tenant: 'vault' })).body.logs ?? []
        if (logs.length === 0) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      t.equal(logs[0]?.message, 'using key [REDACTED] for eu')
    })

    t.test('manual runs open secrets too, and redact them', async (t) => {
      const run = await api(isogate, 'POST', `/api/v1/scripts/${script.id}/run`, { tenant: 'vault', body: { input: {} } })
      t.equal(run.status, 200)
      t.same(run.body.output, { length: SECRET.length }, JSON.stringify(run.body))
      t.equal(run.body.logs[0]?.message, 'manual run with [REDACTED]')
    })

    t.test('PATCH sets, replaces and deletes secrets by name; the rest stay', async (t) => {
      const patched = await api(isogate, 'PATCH', `/api/v1/scripts/${script.id}`, { tenant: 'vault', body: { secrets: { OTHER: 'two', API_KEY: 'replaced-value' } } })
      t.equal(patched.status, 200)
      t.same(patched.body.secrets, ['API_KEY', 'OTHER'])
      t.same(await (await call(isogate, '/vault/pay')).json(), { length: 'replaced-value'.length, region: 'eu', prefix: 'replaced' })
      const removed = await api(isogate, 'PATCH', `/api/v1/scripts/${script.id}`, { tenant: 'vault', body: { secrets: { OTHER: null } } })
      t.same(removed.body.secrets, ['API_KEY'])
    })

    t.test('a name cannot be both env and secret; env values cannot pose as sealed ones', async (t) => {
      const clash = await api(isogate, 'PATCH', `/api/v1/scripts/${script.id}`, { tenant: 'vault', body: { env: { API_KEY: 'plain' } } })
      t.equal(clash.status, 400)
      t.equal(clash.body.error.code, 'VALIDATION_FAILED')
      const posing = await api(isogate, 'POST', '/api/v1/scripts', {
        tenant: 'vault',
        body: { name: 'posing', source: 'export default { fetch() { return new Response("x") } }', http: { path: '/posing' }, env: { X: 'isogate:sealed:v1:AAAA' } },
      })
      t.equal(posing.status, 400)
    })

    t.test('an http script with authSecret serves only requests that present it', async (t) => {
      const guarded = await deploy(isogate, 'vault', '/guarded', 'export default { fetch(request) { return new Response("inside") } }', {
        secrets: { RUNTIME_SECRET: 'let-me-in' },
        http: { path: '/guarded', methods: ['GET', 'POST'], authSecret: 'RUNTIME_SECRET' },
      })
      t.equal(guarded.http.authSecret, 'RUNTIME_SECRET')
      const none = await call(isogate, '/vault/guarded')
      t.equal(none.status, 401)
      t.equal(none.headers.get('www-authenticate'), 'Bearer')
      t.equal(((await none.json()) as any).error.code, 'SCRIPT_AUTH_REQUIRED')
      t.equal((await call(isogate, '/vault/guarded', { headers: { authorization: 'Bearer wrong' } })).status, 401)
      t.equal((await call(isogate, '/vault/guarded', { headers: { 'x-runtime-secret': 'let-me-i' } })).status, 401)
      const bearer = await call(isogate, '/vault/guarded', { headers: { authorization: 'Bearer let-me-in' } })
      t.equal(bearer.status, 200)
      t.equal(await bearer.text(), 'inside')
      t.equal((await call(isogate, '/vault/guarded', { headers: { 'x-runtime-secret': 'let-me-in' } })).status, 200)
      t.equal((await call(isogate, '/vault/pay')).status, 200, 'scripts without authSecret stay open')

      const rotated = await api(isogate, 'PATCH', `/api/v1/scripts/${guarded.id}`, { tenant: 'vault', body: { secrets: { RUNTIME_SECRET: 'rotated' } } })
      t.equal(rotated.status, 200)
      t.equal((await call(isogate, '/vault/guarded', { headers: { authorization: 'Bearer let-me-in' } })).status, 401, 'the old secret stops working at once')
      t.equal((await call(isogate, '/vault/guarded', { headers: { authorization: 'Bearer rotated' } })).status, 200)

      const dangling = await api(isogate, 'PATCH', `/api/v1/scripts/${guarded.id}`, { tenant: 'vault', body: { secrets: { RUNTIME_SECRET: null } } })
      t.equal(dangling.status, 400, 'authSecret must name a secret the script has')
    })
  })
}
