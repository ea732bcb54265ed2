import { readFileSync } from 'node:fs'
import t from 'tap'
import { api, call, deploy, startTestIsogate } from './helpers/isogate.js'
import { databaseTargets } from './helpers/databases.js'

// Scripts written for Cloudflare Workers, deployed unchanged at `/*` on a real gateway (uWS on
// loopback, runner processes, embedded Postgres), and the Workers semantics around them.
// One gateway for the embedded-database tests (each start costs seconds); the server database gets its own.
let shared: Awaited<ReturnType<typeof startTestIsogate>> | null = null
const gateway = async (): Promise<NonNullable<typeof shared>> => (shared ??= await startTestIsogate(t))

const example = (name: string): string => readFileSync(new URL(`./fixtures/workers-examples/${name}.js`, import.meta.url), 'utf8')

t.test('Cloudflare Workers examples run unchanged, mounted at /* on every path of their tenant', async (t) => {
  const isogate = await gateway()
  const at = async (name: string, extra: Record<string, unknown> = {}): Promise<void> => {
    await deploy(isogate, `cf-${name}`, '/*', example(name), extra)
  }
  await Promise.all([
    at('return-html'), at('return-json'), at('redirect'), at('bulk-redirects'), at('basic-auth', { secrets: { PASSWORD: 's3cret' } }),
    at('timing-safe-equal', { secrets: { MY_SECRET_VALUE: 'token-123' } }), at('signing-requests'), at('read-post'), at('extract-cookie'),
    at('custom-header-auth'), at('logging-headers'), at('streams'),
  ])

  const html = await call(isogate, '/cf-return-html/any/deep/path')
  t.equal(html.headers.get('content-type'), 'text/html;charset=UTF-8')
  t.match(await html.text(), /<h1>Hello World<\/h1>/)

  const json = await call(isogate, '/cf-return-json/')
  t.same(await json.json(), { hello: 'world' })
  t.equal(json.headers.get('content-type'), 'application/json')

  const redirect = await call(isogate, '/cf-redirect/x', { redirect: 'manual' })
  t.equal(redirect.status, 301)
  t.equal(redirect.headers.get('location'), 'https://example.com/')

  const bulk = await call(isogate, '/cf-bulk-redirects/bulk4', { redirect: 'manual' })
  t.equal(bulk.status, 301)
  t.equal(bulk.headers.get('location'), 'https://google.com/')

  t.equal(await (await call(isogate, '/cf-basic-auth/')).text(), 'Anyone can access the homepage.')
  const noLogin = await call(isogate, '/cf-basic-auth/admin')
  t.equal(noLogin.status, 401)
  t.match(noLogin.headers.get('www-authenticate'), /^Basic realm=/)
  const wrong = await call(isogate, '/cf-basic-auth/admin', { headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` } })
  t.equal(wrong.status, 401)
  const admin = await call(isogate, '/cf-basic-auth/admin', { headers: { authorization: `Basic ${Buffer.from('admin:s3cret').toString('base64')}` } })
  t.equal(admin.status, 200)
  t.equal(await admin.text(), '🎉 You have private access!')

  t.equal((await call(isogate, '/cf-timing-safe-equal/', { headers: { authorization: 'token-124' } })).status, 401)
  t.equal(await (await call(isogate, '/cf-timing-safe-equal/', { headers: { authorization: 'token-123' } })).text(), 'Welcome!')

  const signed = await (await call(isogate, '/cf-signing-requests/generate/doc')).text()
  t.match(signed, /^\/verify\/doc\?verify=\d+-/)
  t.equal(await (await call(isogate, `/cf-signing-requests${signed}`)).text(), 'Verified!')
  const tampered = await call(isogate, `/cf-signing-requests${signed.replace('/verify/doc', '/verify/other')}`)
  t.equal(tampered.status, 403)
  t.equal(await tampered.text(), 'Invalid MAC')

  const posted = await call(isogate, '/cf-read-post/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
  t.equal(await posted.text(), 'The request body sent in was {"a":1}')
  const form = new FormData()
  form.append('name', 'isogate')
  form.append('upload', new Blob(['file-bytes'], { type: 'text/plain' }), 'f.txt')
  const multipart = await call(isogate, '/cf-read-post/', { method: 'POST', body: form })
  t.equal(await multipart.text(), 'The request body sent in was {"name":"isogate","upload":{}}')

  t.equal(await (await call(isogate, '/cf-extract-cookie/', { headers: { cookie: 'a=b; __uid=u-42' } })).text(), 'u-42')
  t.equal((await call(isogate, '/cf-custom-header-auth/', { headers: { 'x-custom-psk': 'wrong' } })).status, 403)
  t.equal(await (await call(isogate, '/cf-custom-header-auth/', { headers: { 'x-custom-psk': 'mypresharedkey' } })).text(), 'Authorized')
  t.equal(await (await call(isogate, '/cf-logging-headers/', { headers: { 'x-probe': 'seen' } })).text(), 'Hello world')
  const streamed = await call(isogate, '/cf-streams/')
  t.equal(await streamed.text(), 'streamed through')
  t.equal(streamed.headers.get('content-type'), 'text/plain')
})

t.test('the response goes out when the handler resolves; waitUntil work goes on, and its logs and errors land in the record', async (t) => {
  const isogate = await gateway()
  const script = await deploy(isogate, 'wait', '/*', `export default {
    fetch(request, env, ctx) {
      const background = new URL(request.url).searchParams.get('background')
      if (background === null) return new Response('warm')
      ctx.waitUntil((async () => {
        await scheduler.wait(Number(background))
        console.log('background work done')
        Promise.reject(new Error('left after a host call'))
        throw new Error('background failure')
      })())
      Promise.reject(new Error('nobody awaits me'))
      return new Response('quick')
    },
  }`)
  // A first run compiles the script; the one measured is hot, as most runs are, and is set beside
  // a hot run without waitUntil work on the same gateway in the same minute (this machine may be busy).
  t.equal(await (await call(isogate, '/wait/')).text(), 'warm')
  let baseline = Infinity
  for (let i = 0; i < 3; i++) {
    const start = performance.now()
    await (await call(isogate, '/wait/')).text()
    baseline = Math.min(baseline, performance.now() - start)
  }
  const started = performance.now()
  const response = await call(isogate, '/wait/?background=1000')
  const body = await response.text()
  const elapsed = performance.now() - started
  t.equal(body, 'quick')
  t.ok(elapsed < Math.max(50, 3 * baseline), `the response took ${elapsed.toFixed(1)} ms (a run without waitUntil: ${baseline.toFixed(1)} ms), while its waitUntil work takes 1 s`)
  let record: any = null
  for (let i = 0; i < 100 && record === null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const list = await api(isogate, 'GET', `/api/v1/executions?scriptId=${script.id}`, { tenant: 'wait' })
    const id = list.body.items?.find((item: any) => item.durationMs >= 900)?.id
    if (id !== undefined) record = (await api(isogate, 'GET', `/api/v1/executions/${id}`, { tenant: 'wait' })).body
  }
  t.ok(record, 'the run is recorded')
  t.ok(record.durationMs >= 900, `the run lasted ${record.durationMs} ms: the waitUntil work is part of it`)
  const messages = record.logs.map((log: any) => `${log.level}:${log.message}`)
  t.ok(messages.includes('info:background work done'), 'waitUntil logs are in the record')
  t.ok(messages.some((m: string) => /^error:Uncaught \(in waitUntil\): Error: background failure\n\s+at /.test(m)), 'a waitUntil error is logged at level error with its stack')
  t.ok(messages.some((m: string) => /^error:Uncaught \(in promise\) Error: nobody awaits me\n\s+at .*script\.js:11:/.test(m)), 'an unhandled rejection in the handler is logged with its stack')
  t.ok(messages.some((m: string) => /^error:Uncaught \(in promise\) Error: left after a host call/.test(m)), 'an unhandled rejection after a host call is logged too')
})

t.test('a stream body goes to the client as it is produced: its first chunk arrives before the script finishes', async (t) => {
  const isogate = await gateway()
  await deploy(isogate, 'stream', '/*', `export default {
    fetch(request) {
      const pause = Number(new URL(request.url).searchParams.get('pause') ?? '0')
      const encoder = new TextEncoder()
      let step = 0
      const body = new ReadableStream({
        async pull(controller) {
          step++
          if (step === 1) controller.enqueue(encoder.encode('first;'))
          else if (step === 2) { await scheduler.wait(pause); controller.enqueue(encoder.encode('second;')) }
          else if (step === 3) { controller.enqueue(encoder.encode('x'.repeat(2000))) }
          else controller.close()
        },
      })
      return new Response(body, { headers: { 'content-type': 'text/plain' } })
    },
  }`, { limits: { outputBytes: 1000 } })
  t.equal(await (await call(isogate, '/stream/?pause=0')).text().catch(() => 'cut'), 'cut', 'a stream over outputBytes is cut, not sent as if complete')
  const small = await deploy(isogate, 'stream2', '/*', `export default {
    fetch() {
      const encoder = new TextEncoder()
      let step = 0
      return new Response(new ReadableStream({
        async pull(controller) {
          step++
          if (step === 1) controller.enqueue(encoder.encode('first;'))
          else if (step === 2) { await scheduler.wait(700); controller.enqueue(encoder.encode('second;')) }
          else controller.close()
        },
      }), { headers: { 'content-type': 'text/plain' } })
    },
  }`)
  t.ok(small.id)
  await (await call(isogate, '/stream2/')).text()
  const started = performance.now()
  const response = await call(isogate, '/stream2/')
  t.equal(response.status, 200)
  t.equal(response.headers.get('content-type'), 'text/plain')
  const reader = response.body!.getReader()
  const first = await reader.read()
  const firstAt = performance.now() - started
  t.equal(Buffer.from(first.value!).toString(), 'first;')
  let rest = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    rest += Buffer.from(value).toString()
  }
  const doneAt = performance.now() - started
  t.equal(rest, 'second;')
  t.ok(doneAt >= 700, `the body ended after ${doneAt.toFixed(0)} ms`)
  t.ok(firstAt < doneAt - 400, `the first chunk came at ${firstAt.toFixed(0)} ms, before the script finished at ${doneAt.toFixed(0)} ms`)
})

t.test('scripts see the client address and how the request came in', async (t) => {
  const isogate = await gateway()
  await deploy(isogate, 'who', '/*', `export default { fetch(request) {
    const h = (name) => request.headers.get(name)
    return Response.json({ ip: h('cf-connecting-ip'), xff: h('x-forwarded-for'), proto: h('x-forwarded-proto'), host: h('x-forwarded-host') })
  } }`)
  const seen = await (await call(isogate, '/who/', { headers: { 'x-forwarded-for': '203.0.113.7', 'cf-connecting-ip': '198.51.100.1' } })).json()
  t.same(seen, { ip: '127.0.0.1', xff: '203.0.113.7, 127.0.0.1', proto: 'http', host: `127.0.0.1:${isogate.dataPort}` })
})

for (const target of databaseTargets()) {
  t.test(`routes and deploy checks on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = databaseUrl === undefined ? await gateway() : await startTestIsogate(t, { databaseUrl })
    const create = (tenant: string, body: Record<string, unknown>) => api(isogate, 'POST', '/api/v1/scripts', { tenant, body: { type: 'http', ...body } })
    const echo = (label: string) => `export default { fetch(request) { return Response.json({ label: ${JSON.stringify(label)}, params: request.params }) } }`
    await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'routes', name: 'routes' } })

    for (const [name, path] of [['all', '/*'], ['a-wild', '/a/*'], ['a-param', '/a/:x'], ['a-literal', '/a/b'], ['a-b-wild', '/a/b/*'], ['p-first', '/:p/c']] as const) {
      const made = await create('routes', { name, source: echo(name), http: { path, methods: ['GET'] } })
      t.equal(made.status, 201, `${path} is accepted`)
    }
    const post = await create('routes', { name: 'post-only', source: echo('post-only'), http: { path: '/x', methods: ['POST'] } })
    t.equal(post.status, 201)
    const label = async (path: string, init: RequestInit = {}): Promise<string> => ((await (await call(isogate, `/routes${path}`, init)).json()) as { label: string }).label
    t.equal(await label('/'), 'all', '/* serves the root')
    t.equal(await label('/zzz/yyy'), 'all', '/* serves every path')
    t.equal(await label('/a/b'), 'a-literal', 'a literal segment beats a parameter and a wildcard')
    t.equal(await label('/a/b/'), 'a-literal', 'a trailing slash on the request is not significant')
    t.equal(await label('/a/q'), 'a-param', 'a parameter beats a wildcard')
    t.equal(await label('/a/q/r'), 'a-wild')
    t.equal(await label('/a/b/c'), 'a-b-wild', 'a longer literal prefix beats a shorter one')
    t.equal(await label('/q/c'), 'p-first')
    t.equal(await label('/x'), 'all', 'a route without the method gives way to a less specific one that has it')
    t.equal(await label('/x', { method: 'POST' }), 'post-only')

    const clash = await create('routes', { name: 'clash', source: echo('clash'), http: { path: '/a/:other/', methods: ['GET'] } })
    t.equal(clash.status, 409)
    t.equal(clash.body.error.code, 'ROUTE_TAKEN')
    t.match(clash.body.error.message, /"a-param"/, 'the 409 names the script that owns the route')
    t.equal(clash.body.error.details.scriptName, 'a-param')
    t.equal((await create('routes', { name: 'bad', source: echo('bad'), http: { path: '//*' } })).status, 400, '//* is refused')

    const cjs = await create('routes', { name: 'cjs', source: 'module.exports = { fetch() { return new Response("x") } }', http: { path: '/cjs' } })
    t.equal(cjs.status, 400)
    t.equal(cjs.body.error.code, 'SCRIPT_FORMAT_UNSUPPORTED')
    t.match(cjs.body.error.message, /CommonJS.*export default \{ async fetch\(request, env, ctx\)/)
    const sw = await create('routes', { name: 'sw', source: 'addEventListener("fetch", (event) => event.respondWith(new Response("x")))', http: { path: '/sw' } })
    t.equal(sw.status, 400)
    t.equal(sw.body.error.code, 'SCRIPT_FORMAT_UNSUPPORTED')
    t.match(sw.body.error.message, /Service-worker syntax.*line 1, column 1.*export default/)
    const missing = await create('routes', { name: 'missing', source: 'export default { scheduled() {} }', http: { path: '/m' } })
    t.equal(missing.status, 400)
    t.equal(missing.body.error.code, 'SCRIPT_HANDLER_MISSING')
    t.match(missing.body.error.message, /needs a fetch handler.*has scheduled/)
    const cron = await create('routes', { name: 'cron', type: 'scheduled', source: 'export default { fetch() { return new Response("") } }', cron: { expression: '0 0 * * *' } })
    t.equal(cron.body.error?.code, 'SCRIPT_HANDLER_MISSING', 'a cron script needs scheduled')
    const nodeFs = await create('routes', { name: 'fs', source: 'import fs from "node:fs"\nexport default { fetch() { return new Response("") } }', http: { path: '/fs' } })
    t.equal(nodeFs.body.error?.code, 'SCRIPT_IMPORT_FORBIDDEN')
    t.match(nodeFs.body.error?.message, /node:fs/)
    const nodeBuffer = await create('routes', { name: 'buf', source: 'import { Buffer } from "node:buffer"\nexport default { fetch() { return new Response(Buffer.from("hi").toString("hex")) } }', http: { path: '/buf' } })
    t.equal(nodeBuffer.status, 201, 'node:buffer is accepted at deploy')
    t.equal(await (await call(isogate, '/routes/buf')).text(), '6869')
  })
}
