import t from 'tap'
import { rank } from '../runner/index.js'
import { api, call, deploy, startTestIsogate } from './helpers/isogate.js'

const BOMB = `export default { fetch() { new Array(1e9).fill(0); return new Response('survived') } }`
const HELLO = `export default { fetch() { return new Response('hello') } }`

t.test('a runner crash answers 503 RUNNER_CRASHED to its client; the next request of another tenant is 200', async (t) => {
  // The probation runner kept ready. The culprit, alone in flight at its crash, is convicted: its
  // run is not sent there again (crash-containment.test.ts).
  const isogate = await startTestIsogate(t, { runners: 2, runnerStandby: 1, runnerProbation: 'ready' })
  // A 16 MB isolate: V8 aborts the runner. The isolate's heap is the tenant's memory quota (at the
  // default 256 MB the bomb runs into its CPU limit instead).
  await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'culprit', name: 'culprit' } })
  await api(isogate, 'PUT', '/api/v1/tenants/culprit/quota', { body: { memoryMb: 16 } })
  const culprit = await deploy(isogate, 'culprit', '/bomb', BOMB, { limits: { memoryMb: 16 } })
  const culpritRunner = rank(culprit.tenantId, 2)[0]
  // Tenant ids are generated: deploy bystanders until one is served by the other runner.
  let bystander: string | null = null
  for (let i = 0; i < 20 && bystander === null; i++) {
    const script = await deploy(isogate, `bystander-${i}`, '/hello', HELLO)
    if (rank(script.tenantId, 2)[0] !== culpritRunner) bystander = `bystander-${i}`
  }
  if (bystander === null) throw new Error('no bystander on the other runner')
  t.equal((await call(isogate, `/${bystander}/hello`)).status, 200)

  const crashed = await call(isogate, '/culprit/bomb')
  t.equal(crashed.status, 503)
  t.match(await crashed.json(), { error: { code: 'RUNNER_CRASHED' } })

  const next = await call(isogate, `/${bystander}/hello`)
  t.equal(next.status, 200)
  t.equal(await next.text(), 'hello')
})
