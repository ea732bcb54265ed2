import { Writable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import WebSocket from 'ws'
import { AccessLog } from '../gateway/index.js'
import type { RunResult } from '../runner/index.js'
import { type Isogate } from '../src/app.js'
import { databaseTargets } from './helpers/databases.js'
import { ADMIN_TOKEN, api, startTestIsogate } from './helpers/isogate.js'

// Each case starts a whole isogate (embedded database, runner processes): seconds, and over a
// minute on a machine shared by many test runs.
t.setTimeout(300_000)

const LOUD = `export default {
  async fetch(request) {
    const size = Number(new URL(request.url).searchParams.get('kb') ?? '1')
    console.log('x'.repeat(size * 1024))
    return new Response('ok')
  },
}`

function socket(isogate: Isogate, path: string, token = ADMIN_TOKEN): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${isogate.adminPort}/api/v1${path}`, { headers: { authorization: `Bearer ${token}`, 'x-tenant': 'live' } })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_request, response) => reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode })))
    ws.once('error', reject)
  })
}

function messages(ws: WebSocket): { all: any[]; next(match: (m: any) => boolean, timeoutMs?: number): Promise<any> } {
  const all: any[] = []
  const waiters: Array<{ match: (m: any) => boolean; resolve: (m: any) => void }> = []
  ws.on('message', (data) => {
    const message = JSON.parse(String(data))
    all.push(message)
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(message)
      }
    }
  })
  return {
    all,
    next(match, timeoutMs = 10_000) {
      const seen = all.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no such message in time')), timeoutMs)
        waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) })
      })
    },
  }
}

for (const target of databaseTargets()) {
  t.test(`live tail, ad-hoc execute and module upload on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl, tailBufferBytes: 4096 })
    t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'live', name: 'Live' } })).status, 201)
    const developer = (await api(isogate, 'POST', '/api/v1/tenants/live/keys', { body: { role: 'developer', name: 'dev' } })).body.token as string
    const as = (method: string, path: string, body?: unknown, token?: string) => api(isogate, method, path, { tenant: 'live', ...(body === undefined ? {} : { body }), ...(token === undefined ? {} : { token }) })

    t.test('a module upload (text/javascript, metadata in the query) makes a script; one over the bundle limit is 413', async (t) => {
      const upload = await fetch(`http://127.0.0.1:${isogate.adminPort}/api/v1/scripts?name=loud&path=/loud&methods=GET`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-tenant': 'live', 'content-type': 'text/javascript' },
        body: LOUD,
      })
      t.equal(upload.status, 201)
      t.match(await upload.json(), { name: 'loud', version: 1, http: { path: '/loud', methods: ['GET'] } })
      t.equal((await fetch(`http://127.0.0.1:${isogate.dataPort}/live/loud`)).status, 200)
      const big = await fetch(`http://127.0.0.1:${isogate.adminPort}/api/v1/scripts?name=big&path=/big`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-tenant': 'live', 'content-type': 'application/javascript' },
        body: `export default {}\n//${'x'.repeat(1024 * 1024)}`,
      })
      t.equal(big.status, 413)
      t.equal(((await big.json()) as any).error.code, 'SOURCE_TOO_LARGE')
      const unknown = await fetch(`http://127.0.0.1:${isogate.adminPort}/api/v1/scripts?name=odd&colour=red`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-tenant': 'live', 'content-type': 'application/javascript' },
        body: 'export default {}',
      })
      t.equal(((await unknown.json()) as any).error.code, 'VALIDATION_FAILED')
    })

    t.test('the tail refuses a key without scripts.read... and an unknown script, before the upgrade', async (t) => {
      await t.rejects(socket(isogate, '/tail', 'igk_nobody'), { message: 'HTTP 401' })
      await t.rejects(socket(isogate, '/tail?script=nope'), { message: 'HTTP 404' })
      await t.rejects(socket(isogate, '/tail?status=maybe'), { message: 'HTTP 400' })
      const plain = await as('GET', '/api/v1/tail')
      t.equal(plain.status, 400, 'a plain GET is told to upgrade, in the usual error envelope')
      t.equal(plain.body.error.code, 'VALIDATION_FAILED')
    })

    t.test('a tail client that stalls is told how many runs it missed; runs never wait for it', async (t) => {
      const ws = await socket(isogate, '/tail?script=loud')
      t.teardown(() => ws.terminate())
      const inbox = messages(ws)
      await inbox.next((m) => m.type === 'ready')
      // Stop reading: the kernel's buffers fill, then the server's queue passes 4 KiB.
      ;(ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause()
      const runs = 40
      const started = performance.now()
      for (let i = 0; i < runs; i++) t.equal((await fetch(`http://127.0.0.1:${isogate.dataPort}/live/loud?kb=200`)).status, 200)
      t.ok(performance.now() - started < 20_000, 'runs were served while the client read nothing')
      ;(ws as unknown as { _socket: { resume(): void } })._socket.resume()
      const notice = await inbox.next((m) => m.type === 'dropped')
      t.ok(notice.dropped > 0, `${notice.dropped} runs dropped and reported`)
      await new Promise((resolve) => setTimeout(resolve, 300))
      const received = inbox.all.filter((m) => m.type === 'run').length
      const dropped = inbox.all.filter((m) => m.type === 'dropped').reduce((sum, m) => sum + m.dropped, 0)
      t.equal(received + dropped, runs, 'every run was either delivered or counted as dropped: none silently lost')
    })

    t.test('ad-hoc execute over HTTP: value, console, time, errors at the line of the code; recorded as a manual run and audited', async (t) => {
      const ok = await as('POST', '/api/v1/execute', { code: 'console.log("scale", scale)\nreturn input.n * scale', input: { n: 21 }, globals: { scale: 2 } })
      t.equal(ok.status, 200)
      t.match(ok.body, { id: String, value: 42, console: [{ level: 'info', message: 'scale 2' }], timeMs: Number, error: null })
      const called = await as('POST', '/api/v1/execute', { code: 'async function main(input, env, ctx) {\n  await ctx.cache.set("k", input)\n  return ctx.cache.get("k")\n}', call: 'main', input: 'cached' })
      t.match(called.body, { value: 'cached', error: null }, 'call names a function the code declares; the tenant\'s host APIs are there')
      const thrown = await as('POST', '/api/v1/execute', { code: 'const a = 1\nfunction f() {\n  return missing.value\n}\nreturn f()' })
      t.match(thrown.body, { value: null, error: { code: 'SCRIPT_ERROR', message: /missing is not defined/, line: 3, column: 3, stack: /at f \(code:3:3\)/ } })
      const syntax = await as('POST', '/api/v1/execute', { code: 'const a = 1\nlet b = )' })
      t.match(syntax.body.error, { code: 'SCRIPT_SYNTAX_ERROR', line: 2, column: 9 })
      const limited = await as('POST', '/api/v1/execute', { code: 'for (;;) {}', limits: { cpuMs: 50, timeoutMs: 2000 } })
      t.match(limited.body.error, { code: 'SCRIPT_CPU_LIMIT' })

      const record = await as('GET', `/api/v1/executions/${ok.body.id}`)
      t.match(record.body, { trigger: 'manual', status: 'completed', output: 42, input: { code: /return input.n/, globals: { scale: 2 } } })
      const audit = await as('GET', `/api/v1/audit?action=code.execute&resourceId=${ok.body.id}`)
      t.equal(audit.body.items.length, 1, 'the run is in the audit trail')
      t.match(audit.body.items[0], { action: 'code.execute', resourceType: 'execution', after: { codeSha256: /^[0-9a-f]{64}$/, globals: ['scale'] } })

      const refused = await as('POST', '/api/v1/execute', { code: 'return 1' }, developer)
      t.equal(refused.status, 403, 'scripts.execute (a developer has it) is not enough')
      t.equal(refused.body.error.code, 'FORBIDDEN')
      t.equal((await as('POST', '/api/v1/execute', { code: 'return 1', globals: { input: 1 } })).body.error.code, 'VALIDATION_FAILED', 'a global cannot shadow input')
    })

    t.test('ad-hoc execute over a WebSocket: frames run concurrently, each answer carries its id; refused without the permission', async (t) => {
      await t.rejects(socket(isogate, '/execute', developer), { message: 'HTTP 403' })
      const ws = await socket(isogate, '/execute')
      t.teardown(() => ws.close())
      const inbox = messages(ws)
      ws.send(JSON.stringify({ id: 'slow', code: 'await new Promise((r) => setTimeout(r, 1500))\nreturn "slow"' }))
      ws.send(JSON.stringify({ id: 2, code: 'return input + 1', input: 1 }))
      ws.send(JSON.stringify({ id: 'bad', code: 'return 1', extra: true }))
      ws.send('not json')
      const fast = await inbox.next((m) => m.id === 2)
      t.match(fast, { id: 2, value: 2, error: null })
      const slow = await inbox.next((m) => m.id === 'slow')
      t.match(slow, { id: 'slow', value: 'slow', executionId: String })
      t.ok(inbox.all.indexOf(fast) < inbox.all.indexOf(slow), 'the quick frame did not wait for the slow one')
      t.match(await inbox.next((m) => m.id === 'bad'), { error: { code: 'VALIDATION_FAILED' } })
      t.match(await inbox.next((m) => m.id === null), { error: { code: 'VALIDATION_FAILED', message: /JSON/ } })
    })
  })
}

t.test('the access log: a line per run at its level, successes sampled, limit kills and crashes at warn whatever the level', async (t) => {
  const lines: any[] = []
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _encoding, done) { lines.push(JSON.parse(String(chunk))); done() } }))
  const metrics = { wallMs: 3.14159, cpuMs: 1, heapBytes: 0, apiCalls: 0, outputBytes: 0, start: 'hot' as const }
  const ok: RunResult = { ok: true, response: { status: 200, headers: [], body: null }, logs: [], metrics }
  const failed: RunResult = { ok: false, error: { code: 'SCRIPT_ERROR', message: 'x' }, logs: [], metrics }
  const killed: RunResult = { ok: false, error: { code: 'SCRIPT_CPU_LIMIT', message: 'x' }, logs: [], metrics }
  const run = (result: RunResult, status: number) => ({ executionId: 'e1', tenant: 'acme', scriptId: 's1', version: 2, method: 'GET', url: 'http://h/a/b?c=d', result, status })
  const draws = [0.05, 0.5]
  const log = new AccessLog({ logger, level: 'info', sampleRate: 0.1, random: () => draws.shift() ?? 0.99 })
  log.write(run(ok, 200))
  log.write(run(ok, 200))
  log.write(run(failed, 500))
  t.equal(lines.length, 2, 'one success of two sampled in (0.05 < 0.1), the failure always')
  t.match(lines[0], { level: 30, executionId: 'e1', tenant: 'acme', scriptId: 's1', method: 'GET', path: '/a/b', status: 200, durationMs: 3.14, code: null })
  t.match(lines[1], { status: 500, code: 'SCRIPT_ERROR' })
  const quiet = new AccessLog({ logger, level: 'silent', sampleRate: 1 })
  quiet.write(run(ok, 200))
  quiet.write(run(killed, 503))
  t.equal(lines.length, 3)
  t.match(lines[2], { level: 40, code: 'SCRIPT_CPU_LIMIT', scriptId: 's1', msg: /limit/ })
})
