import t from 'tap'
import { databaseTargets } from './helpers/databases.js'
import { api, call, deploy, startTestIsogate } from './helpers/isogate.js'

const server = databaseTargets().find((target) => target.name === 'server')

t.test('a script deployed through one process is served by another sharing the database, at once', { skip: server ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' }, async (t) => {
  const target = server!
  const databaseUrl = await target.createUrl()
  t.teardown(() => target.cleanup())
  const first = await startTestIsogate(t, { databaseUrl })
  const second = await startTestIsogate(t, { databaseUrl })

  const script = await deploy(first, 'shared', '/v', `export default { fetch() { return new Response('v1') } }`)
  const served = async (expected: number, text?: string): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const response = await call(second, '/shared/v')
      const body = await response.text()
      if (response.status === expected && (text === undefined || body === text)) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`the second process never answered ${expected} ${text ?? ''}`)
  }
  await served(200, 'v1')
  t.pass('the second process serves the new script without a restart')

  const patched = await api(first, 'PATCH', `/api/v1/scripts/${script.id}`, { tenant: 'shared', body: { status: 'paused' } })
  t.equal(patched.status, 200)
  await served(404)
  t.pass('pausing it in one process stops it in the other')
})
