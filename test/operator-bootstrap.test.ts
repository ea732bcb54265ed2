import t from 'tap'
import { testConfig } from '../config/test.js'
import type { ConfigOverrides } from '../config/index.js'
import { startIsogate, type Isogate } from '../src/app.js'
import { databaseTargets } from './helpers/databases.js'
import { api, call } from './helpers/isogate.js'
import { tempFolder } from './helpers/temp.js'

const A = 'first-admin-token'
const B = 'second-admin-token'

for (const target of databaseTargets()) {
  t.test(`the bootstrap token rotates across restarts, the generated one is revocable, and the demo tenant comes once on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    // One data folder across the restarts: the embedded database lives there.
    const dataDir = tempFolder(t, 'isogate-bootstrap-')
    let running: Isogate | null = null
    t.teardown(() => running?.close())
    const start = async (overrides: ConfigOverrides): Promise<Isogate> => {
      await running?.close()
      // One worker thread: four starts per database, and only the first start runs a script.
      running = await startIsogate(testConfig({ databaseUrl, dataDir, workers: 1, ...overrides }))
      return running
    }
    const whoami = async (isogate: Isogate, token: string) => (await api(isogate, 'GET', '/api/v1/whoami', { token })).status

    // First start: no token configured, the demo on.
    let isogate = await start({ adminToken: undefined, demo: true })
    const generated = isogate.generatedAdminToken
    t.match(generated, /^igk_/, 'a token is generated on the first start')
    t.equal(isogate.demoCreated, true)
    t.equal((await call(isogate, '/demo/hello')).status, 200)
    t.equal(await whoami(isogate, generated!), 200)
    t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/demo', { token: generated! })).status, 204, 'the demo tenant is an ordinary, deletable tenant')

    // ISOGATE_ADMIN_TOKEN=A: A works beside the generated key; the deleted demo does not come back.
    isogate = await start({ adminToken: A, demo: true })
    t.equal(isogate.generatedAdminToken, null)
    t.equal(isogate.demoCreated, false, 'the demo is offered on the first start only')
    t.equal((await call(isogate, '/demo/hello')).status, 404)
    t.equal(await whoami(isogate, A), 200)
    t.equal(await whoami(isogate, generated!), 200)

    // ISOGATE_ADMIN_TOKEN=B: B replaces A. The generated key is revoked through the API.
    isogate = await start({ adminToken: B })
    t.equal(await whoami(isogate, A), 401, 'the previous value no longer works')
    t.equal(await whoami(isogate, B), 200)
    const keys = await api(isogate, 'GET', '/api/v1/keys', { token: B })
    const generatedKey = keys.body.items.find((key: any) => key.origin === 'generated')
    t.match(keys.body.items.map((key: any) => [key.origin, key.revokedAt === null]), [['generated', true], ['env', false], ['env', true]])
    t.equal((await api(isogate, 'DELETE', `/api/v1/keys/${generatedKey.id}`, { token: B })).status, 204)
    t.equal(await whoami(isogate, generated!), 401, 'the generated first-start token is revoked')

    // Unset: the last value keeps working, and no token is generated again.
    isogate = await start({ adminToken: undefined })
    t.equal(isogate.generatedAdminToken, null, 'no second generated token')
    t.equal(await whoami(isogate, B), 200, 'unset keeps the last value')
    t.equal(await whoami(isogate, A), 401)
    const audit = await isogate.db.system((tx) => tx<Array<{ action: string }>>`SELECT action FROM audit_log WHERE action = 'key.revoke' AND resource_id = ${generatedKey.id}`)
    t.equal(audit.length, 1, 'the revocation is audited')
  })
}
