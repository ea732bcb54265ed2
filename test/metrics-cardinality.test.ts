import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Agent, request } from 'undici'
import { AdmissionController, TenantGate, TenantLabels, statusLabel } from '../gateway/index.js'
import { api, deploy, startTestIsogate } from './helpers/isogate.js'

/** Every series of a scrape (name and labels), and the values each label took. */
function seriesOf(text: string): { series: Set<string>; values: Map<string, Set<string>> } {
  const series = new Set<string>()
  const values = new Map<string, Set<string>>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const key = line.slice(0, line.lastIndexOf(' '))
    series.add(key)
    for (const match of key.matchAll(/(\w+)="([^"]*)"/g)) {
      const set = values.get(match[1]!) ?? new Set<string>()
      set.add(match[2]!)
      values.set(match[1]!, set)
    }
  }
  return { series, values }
}

t.test('10,000 requests to random tenant names add no label value and no series to /metrics', async (t) => {
  const isogate = await startTestIsogate(t, { metricsMaxTenants: 2 })
  await deploy(isogate, 'real', '/x', 'export default { fetch() { return new Response("ok", { status: 218 }) } }')
  const scrape = async () => (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()
  const agent = new Agent({ connections: 32, pipelining: 1 })
  t.teardown(() => agent.close())
  const get = async (path: string) => {
    const response = await request(`http://127.0.0.1:${isogate.dataPort}${path}`, { dispatcher: agent })
    await response.body.dump()
    return response.statusCode
  }
  // Every label set a scan can reach exists once before: an unknown tenant's 404, a known tenant's answers.
  t.equal(await get('/warmup/x'), 404)
  t.equal(await get('/real/x'), 218)
  t.equal(await get('/real/missing'), 404)
  const before = seriesOf(await scrape())
  t.same([...(before.values.get('tenant') ?? [])].sort(), ['_unknown', 'real'])
  t.ok(before.values.get('status')?.has('2xx'), 'a status outside the known set is its class')

  let sent = 0
  const statuses = new Map<number, number>()
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (sent < 10_000) {
        sent++
        const status = await get(`/${randomBytes(6).toString('hex')}/${randomBytes(3).toString('hex')}`)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
    }),
  )
  t.same(Object.fromEntries(statuses), { 404: 10_000 })
  const after = seriesOf(await scrape())
  t.same([...(after.values.get('tenant') ?? [])].sort(), ['_unknown', 'real'], 'no new tenant label value')
  const added = [...after.series].filter((key) => !before.series.has(key) && key.includes('tenant='))
  t.same(added, [], 'no new series with a tenant label')
  t.match(await scrape(), /isogate_http_requests_total\{tenant="_unknown",status="404"\} 1000[1-9]/)

  // Past maxTenants, real tenants share `_other`.
  for (const slug of ['more-a', 'more-b']) await deploy(isogate, slug, '/x', 'export default { fetch() { return new Response("ok") } }')
  for (const slug of ['more-a', 'more-b']) t.equal(await get(`/${slug}/x`), 200)
  const bounded = seriesOf(await scrape())
  t.same([...(bounded.values.get('tenant') ?? [])].sort(), ['_other', '_unknown', 'more-a', 'real'], 'at most 2 tenants by name, the rest `_other`')
  t.equal((await api(isogate, 'DELETE', '/api/v1/tenants/real')).status, 204)
  t.notMatch(await scrape(), /tenant="real"/, "a deleted tenant's series go")
})

t.test('tenant labels are only names of existing tenants, bounded; statuses are bounded too', async (t) => {
  const known = new Set(['a', 'b', 'c'])
  const labels = new TenantLabels({ exists: (slug) => known.has(slug), maxTenants: 2 })
  t.same(['a', 'zzz', 'b', 'c', 'a'].map((slug) => labels.of(slug)), ['a', '_unknown', 'b', '_other', 'a'])
  t.ok(labels.forget('a'))
  t.equal(labels.of('c'), 'c', 'a forgotten tenant frees its place')
  t.same([200, 418, 299, 503, 999].map(statusLabel), ['200', '4xx', '2xx', '503', 'other'])
  t.throws(() => new TenantLabels({ exists: (() => true), maxTenants: 0 }), RangeError)
})

t.test('the tenant gate refuses a suspended tenant and meters a token bucket with Retry-After', async (t) => {
  let now = 0
  const gate = new TenantGate({ now: () => now })
  t.equal(gate.check('t'), null, 'a tenant with no policy passes')
  gate.set('t', { suspended: false, requestsPerSecond: 2, concurrency: 3 })
  t.same([gate.check('t'), gate.check('t')], [null, null])
  t.same(gate.check('t'), { code: 'TENANT_RATE_LIMITED', retryAfterSeconds: 1 })
  now += 500
  t.equal(gate.check('t'), null, 'one token back after half a second at 2/s')
  gate.set('slow', { suspended: false, requestsPerSecond: 0.1, concurrency: 1 })
  t.equal(gate.check('slow'), null)
  t.same(gate.check('slow'), { code: 'TENANT_RATE_LIMITED', retryAfterSeconds: 10 })
  gate.set('t', { suspended: true, requestsPerSecond: 0, concurrency: 3 })
  t.same(gate.check('t'), { code: 'TENANT_SUSPENDED' })
  t.equal(gate.concurrencyOf('t'), 3)
  gate.remove('t')
  t.equal(gate.check('t'), null)
})

t.test("admission never lets a tenant run more than its quota's concurrency", async (t) => {
  const caps: Record<string, number> = { small: 2 }
  const admission = new AdmissionController({ perTenantConcurrency: 10, perTenantQueue: 10, tenantConcurrency: (id) => caps[id] })
  let running = 0
  const verdicts = Array.from({ length: 4 }, () => admission.admit('small', () => running++).verdict)
  t.same(verdicts, ['started', 'started', 'queued', 'queued'])
  t.equal(running, 2)
  admission.release('small')
  t.equal(running, 3, 'a freed slot starts the next one, still within the cap')
  t.same(Array.from({ length: 5 }, () => admission.admit('big', () => {}).verdict), ['started', 'started', 'started', 'started', 'started'], 'a tenant without a quota cap keeps the default')
})
