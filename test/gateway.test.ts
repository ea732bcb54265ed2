import t from 'tap'
import { AdmissionController } from '../gateway/index.js'
import { api, call, deploy, rawRequest, startTestIsogate } from './helpers/isogate.js'
import { until } from './helpers/until.js'

const BUSY = (ms: number) => `export default { fetch() { const end = Date.now() + ${ms}; while (Date.now() < end) {} return new Response('done') } }`

t.test('gateway behaviour on real sockets', async (t) => {
  const isogate = await startTestIsogate(t, { maxBodyBytes: 1024 * 1024 })

  t.test('named route parameters and a trailing wildcard reach the script', async (t) => {
    await deploy(isogate, 'shop', '/orders/:id', `export default { fetch(r) { return Response.json(r.params) } }`)
    await deploy(isogate, 'shop', '/static/*', `export default { fetch(r) { return Response.json(r.params) } }`)
    t.same(await (await call(isogate, '/shop/orders/42')).json(), { id: '42' })
    t.same(await (await call(isogate, '/shop/orders/a%20b')).json(), { id: 'a b' })
    t.same(await (await call(isogate, '/shop/static/css/site.css')).json(), { '*': 'css/site.css' })
    t.equal((await call(isogate, '/shop/orders')).status, 404)
  })

  t.test('HEAD on a GET route answers the headers and Content-Length without a body', async (t) => {
    await deploy(isogate, 'heads', '/page', `export default { fetch() { return new Response('twelve bytes') } }`)
    const response = await rawRequest(isogate.dataPort, { path: '/heads/page', method: 'HEAD' })
    t.equal(response.status, 200)
    t.equal(response.headers['content-length'], '12')
    t.equal(response.body, '')
  })

  t.test('a 2 MB body is refused with 413 BODY_TOO_LARGE and the server keeps serving', async (t) => {
    await deploy(isogate, 'uploads', '/up', `export default { async fetch(r) { return new Response(String((await r.text()).length)) } }`)
    const big = await call(isogate, '/uploads/up', { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) }).catch((error: Error) => error)
    if (big instanceof Response) {
      t.equal(big.status, 413)
      t.equal(((await big.json()) as any).error.code, 'BODY_TOO_LARGE')
    } else {
      t.pass('the connection was closed after the 413 (the client was still sending)')
    }
    const raw = await rawRequest(isogate.dataPort, { path: '/uploads/up', method: 'POST', body: 'y'.repeat(2 * 1024 * 1024) }).catch((error: Error) => error)
    if (!(raw instanceof Error)) t.equal(raw.status, 413)
    const small = await call(isogate, '/uploads/up', { method: 'POST', body: 'z'.repeat(1000) })
    t.equal(await small.text(), '1000')
  })

  t.test('a large response body arrives whole with the right Content-Length', async (t) => {
    await deploy(isogate, 'bulk', '/big', `export default { fetch() { return new Response('b'.repeat(6 * 1024 * 1024)) } }`, { limits: { outputBytes: 16 * 1024 * 1024 } })
    const response = await call(isogate, '/bulk/big')
    t.equal(response.headers.get('content-length'), String(6 * 1024 * 1024))
    t.equal((await response.arrayBuffer()).byteLength, 6 * 1024 * 1024)
    // A text body goes to uWS as a string; past what the socket takes at once, the rest is written
    // from its UTF-8 bytes at the offset uWS reports: multi-byte characters must not shift it.
    await deploy(isogate, 'bulk', '/wide', `export default { fetch() { return new Response('é✓'.repeat(1024 * 1024) + '.') } }`, { limits: { outputBytes: 16 * 1024 * 1024 } })
    const wide = await call(isogate, '/bulk/wide')
    t.equal(wide.headers.get('content-length'), String(5 * 1024 * 1024 + 1))
    const text = await wide.text()
    t.equal(text.length, 2 * 1024 * 1024 + 1)
    t.ok(text === 'é✓'.repeat(1024 * 1024) + '.', 'every character in place')
  })

  t.test('a failed run answers JSON with its execution id, no stack, and is recorded with line and column', async (t) => {
    await deploy(isogate, 'faulty', '/boom', `export default {\n  fetch() {\n    throw new Error('kaput')\n  },\n}`)
    const response = await call(isogate, '/faulty/boom')
    t.equal(response.status, 500)
    const body = (await response.json()) as any
    t.match(body, { error: { code: 'SCRIPT_ERROR', message: String, executionId: /^[0-9a-f-]{36}$/ } })
    t.notMatch(JSON.stringify(body), /kaput|script\.js|at /, 'no script internals in the answer')
    let row: any
    for (let i = 0; i < 100 && !row; i++) {
      ;[row] = await isogate.db.system((tx) => tx`SELECT status, trigger, error FROM executions WHERE id = ${body.error.executionId}`)
      if (!row) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    t.match(row, { status: 'failed', trigger: 'http', error: { code: 'SCRIPT_ERROR', message: 'kaput', line: 3, column: 11 } })
  })

  t.test('successful runs are recorded too, in batches', async (t) => {
    await deploy(isogate, 'counted', '/ok', `export default { fetch() { return new Response('ok') } }`)
    await Promise.all(Array.from({ length: 20 }, () => call(isogate, '/counted/ok').then((r) => r.text())))
    let count = 0
    for (let i = 0; i < 100 && count < 20; i++) {
      const [row] = await isogate.db.system((tx) => tx<{ count: number }[]>`
        SELECT count(*)::int AS count FROM executions e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = 'counted' AND e.status = 'completed'`)
      count = row?.count ?? 0
      if (count < 20) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    t.equal(count, 20)
  })

  t.test('a client that aborts mid-run gets nothing written and the server keeps serving', async (t) => {
    await deploy(isogate, 'slow', '/wait', BUSY(400))
    const controller = new AbortController()
    const aborted = call(isogate, '/slow/wait', { signal: controller.signal }).catch((error: Error) => error.name)
    setTimeout(() => controller.abort(), 50)
    t.equal(await aborted, 'AbortError')
    const next = await call(isogate, '/slow/wait')
    t.equal(await next.text(), 'done')
  })

  t.test('the metrics endpoint reports requests by tenant and status', async (t) => {
    const response = await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)
    const text = await response.text()
    t.match(text, /isogate_http_requests_total\{tenant="counted",status="200"\} 20/)
    t.match(text, /isogate_http_request_duration_seconds_bucket\{le="0.005",tenant="counted",status="200"\}/)
    t.match(text, /isogate_execution_records_dropped_total\{reason="failure_buffer_full"\} 0/)
    t.match(text, /isogate_admission_queued \d+/)
  })
})

t.test('admission control refuses excess at once: 429 for a busy tenant, 503 when overloaded', async (t) => {
  const isogate = await startTestIsogate(t, { tenantConcurrency: 1, tenantQueue: 0, globalConcurrency: 2, globalQueue: 0 })
  await deploy(isogate, 'greedy', '/work', BUSY(2000))
  await deploy(isogate, 'polite', '/hi', `export default { fetch() { return new Response('hi') } }`)
  await deploy(isogate, 'third', '/work', BUSY(2000))
  const running = async (n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      const text = await (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()
      if (new RegExp(`isogate_admission_running ${n}\\b`).test(text)) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error(`never ${n} running`)
  }

  const first = call(isogate, '/greedy/work')
  await running(1)
  const busy = await call(isogate, '/greedy/work')
  t.equal(busy.status, 429)
  t.equal(busy.headers.get('retry-after'), '1')
  t.equal(((await busy.json()) as any).error.code, 'TENANT_BUSY')
  const other = await call(isogate, '/polite/hi')
  t.equal(other.status, 200, 'another tenant is served while the first is at its cap')
  t.equal(await other.text(), 'hi')

  const second = call(isogate, '/third/work')
  await running(2)
  const overloaded = await call(isogate, '/polite/hi')
  t.equal(overloaded.status, 503)
  t.equal(((await overloaded.json()) as any).error.code, 'OVERLOADED')
  t.equal(overloaded.headers.get('retry-after'), '1')
  t.equal((await first).status, 200)
  t.equal((await second).status, 200)
})

t.test('a script that keeps failing opens its circuit, then a trial run after the cool-down closes it', async (t) => {
  const isogate = await startTestIsogate(t, { breakerFailures: 2, breakerCoolDownMs: 500 })
  await deploy(isogate, 'flaky', '/f', `let calls = 0; export default { fetch() { calls++; if (calls <= 2) throw new Error('no'); return new Response('recovered') } }`)
  t.equal((await call(isogate, '/flaky/f')).status, 500)
  t.equal((await call(isogate, '/flaky/f')).status, 500)
  const open = await call(isogate, '/flaky/f')
  t.equal(open.status, 503)
  t.equal(((await open.json()) as any).error.code, 'SCRIPT_UNAVAILABLE')
  t.ok(Number(open.headers.get('retry-after')) >= 1)
  await new Promise((resolve) => setTimeout(resolve, 700))
  const trial = await call(isogate, '/flaky/f')
  t.equal(trial.status, 200)
  t.equal(await trial.text(), 'recovered')
  t.equal((await call(isogate, '/flaky/f')).status, 200, 'closed again')
})

t.test('a flood at an open circuit: every refusal is counted, the first of each second is recorded in full, not each 503', async (t) => {
  const isogate = await startTestIsogate(t, { breakerFailures: 2, breakerCoolDownMs: 60_000, rollupFlushMs: 100, recordFlushMs: 20 })
  const script = await deploy(isogate, 'broken', '/b', `export default { fetch() { throw new Error('no') } }`)
  for (let i = 0; i < 2; i++) t.equal((await call(isogate, '/broken/b')).status, 500)
  const started = Date.now()
  const statuses: number[] = []
  await Promise.all(Array.from({ length: 10 }, async () => {
    for (let i = 0; i < 20; i++) {
      const response = await call(isogate, '/broken/b')
      statuses.push(response.status)
      await response.arrayBuffer()
    }
  }))
  const seconds = Math.floor(Date.now() / 1000) - Math.floor(started / 1000) + 1
  t.equal(statuses.filter((status) => status === 503).length, 200, 'the open circuit refused all 200')
  const counted = await until('rollups', async () => (await api(isogate, 'GET', `/api/v1/scripts/${script.id}/stats`, { tenant: 'broken' })).body, (body) => body?.totals?.runs === 202)
  t.match(counted.totals, { runs: 202, failed: 202, byCode: { SCRIPT_ERROR: 2, SCRIPT_UNAVAILABLE: 200 } }, 'every refusal is counted')
  await new Promise((resolve) => setTimeout(resolve, 300)) // the last records' batch
  const rows = await isogate.db.system((tx) => tx<{ code: string; n: number }[]>`
    SELECT error->>'code' AS code, count(*)::int AS n FROM executions WHERE script_id = ${script.id} GROUP BY 1 ORDER BY 1`)
  const recorded = new Map(rows.map((row) => [row.code, row.n]))
  t.equal(recorded.get('SCRIPT_ERROR'), 2, 'both failed runs are recorded in full')
  const refusals = recorded.get('SCRIPT_UNAVAILABLE') ?? 0
  t.ok(refusals >= 1 && refusals <= seconds, `refusals recorded: ${refusals}, one per second at most (${seconds} s), not 200`)
})

t.test('fair scheduling: a freed slot goes round-robin across tenants, not to the longest queue', async (t) => {
  const admission = new AdmissionController({ perTenantConcurrency: 10, perTenantQueue: 100, globalConcurrency: 1, globalQueue: 100 })
  const started: string[] = []
  const admit = (tenant: string) => admission.admit(tenant, () => started.push(tenant)).verdict
  t.equal(admit('flood'), 'started')
  for (let i = 0; i < 5; i++) t.equal(admit('flood'), 'queued')
  t.equal(admit('quiet'), 'queued')
  admission.release('flood')
  admission.release(started.at(-1) as string)
  t.same(started.slice(0, 3), ['flood', 'flood', 'quiet'], 'the quiet tenant ran second in line, ahead of four queued flood runs')
  t.same(admission.stats, { running: 1, queued: 4, tenants: 2 })
})

t.test('a tenant alone may go deep; beside another active tenant it gets the contended share', async (t) => {
  const admission = new AdmissionController({ perTenantConcurrency: 4, contendedConcurrency: 2, perTenantQueue: 100, globalConcurrency: 100, globalQueue: 100 })
  const started: string[] = []
  const admit = (tenant: string) => admission.admit(tenant, () => started.push(tenant)).verdict
  for (let i = 0; i < 4; i++) t.equal(admit('flood'), 'started', 'alone: up to perTenantConcurrency')
  t.equal(admit('flood'), 'queued')
  t.equal(admit('quiet'), 'started', 'another tenant is not held back by the flood')
  admission.release('flood')
  admission.release('flood')
  t.equal(started.filter((x) => x === 'flood').length, 4, 'contended: the flood refills only below its share of 2')
  admission.release('flood')
  t.equal(started.filter((x) => x === 'flood').length, 5, 'below 2 in flight, its queued run starts')
  admission.release('quiet')
  t.equal(admit('flood'), 'queued', 'right after the other tenant left, still contended (a quiet tenant comes back soon)')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal(admit('flood'), 'queued', 'behind its own queue')
  admission.release('flood')
  t.equal(admission.stats.running, 3, 'a second later, alone again: both queued runs start, past the contended share of 2')
  t.equal(admission.stats.queued, 0)
})

t.test('a queued request whose client leaves gives its place back', async (t) => {
  const admission = new AdmissionController({ perTenantConcurrency: 1, perTenantQueue: 1, globalConcurrency: 1, globalQueue: 10 })
  admission.admit('a', () => {})
  const queued = admission.admit('a', () => t.fail('a cancelled run must not start'))
  t.equal(admission.admit('a', () => {}).verdict, 'TENANT_BUSY')
  queued.ticket?.cancel()
  t.equal(admission.stats.queued, 0)
  t.equal(admission.admit('a', () => {}).verdict, 'queued')
})
