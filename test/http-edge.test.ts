import t from 'tap'
import { api, deploy, startTestIsogate } from './helpers/isogate.js'
import { exchange, firstJson } from './helpers/raw-http.js'

/**
 * The data plane's HTTP edge over raw TCP: for each case the bytes sent, the exact answer, what
 * became of the connection, and that nothing after the request was parsed as another request.
 * Where this uWS build (20.30) cannot be made to answer, the behaviour is pinned here and the
 * README's deployment section says which proxy settings keep it safe.
 */
const SECOND = 'GET /edge/public/second HTTP/1.1\r\nHost: x\r\n\r\n'
/** How long a case waits for an answer uWS never gives. */
const SILENT_MS = 300

t.test('the data plane HTTP edge on raw sockets', async (t) => {
  const isogate = await startTestIsogate(t, { maxBodyBytes: 1024 })
  const port = isogate.dataPort
  const echo = `export default { fetch(r) { return new Response(r.method + ' ' + new URL(r.url).pathname) } }`
  await deploy(isogate, 'edge', '/public/*', echo)
  await api(isogate, 'POST', '/api/v1/scripts', {
    tenant: 'edge',
    body: { name: 'admin', type: 'http', source: echo, http: { path: '/admin', methods: ['GET'], authSecret: 'ADMIN_TOKEN' }, secrets: { ADMIN_TOKEN: 'sesame' } },
  })
  const answer = (status: number, data: string): void => {
    t.match(data, new RegExp(`^HTTP/1\\.1 ${status} `), `answered ${status}`)
    t.notMatch(data, /uWebSockets/i, 'no server banner header')
  }

  t.test('a request is answered without a uWebSockets banner header', async (t) => {
    const result = await exchange(port, 'GET /edge/public/a HTTP/1.1\r\nHost: x\r\n\r\n')
    t.same(result.statuses, [200])
    t.notMatch(result.data, /uWebSockets/i)
    t.match(result.data, /\r\n\r\nGET \/public\/a$/)
    t.notOk(result.closed, 'a keep-alive connection stays open')
  })

  t.test('dot segments in every spelling are resolved before routing, so /public/../admin reaches /admin and its authSecret', async (t) => {
    for (const path of ['/edge/public/../admin', '/edge/public/%2e%2e/admin', '/edge/public/.%2E/admin', '/edge/public/%2e./admin', '/edge/public/..\\admin', '/edge/public\\..\\admin', '/edge/public/./../admin']) {
      const result = await exchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)
      t.same(result.statuses, [401], `${path} is /admin, which asks for its secret`)
      t.equal(firstJson(result.data)?.error.code, 'SCRIPT_AUTH_REQUIRED', path)
      t.notMatch(result.data, /GET \/public/, `${path} never reaches the public script`)
    }
    const authed = await exchange(port, 'GET /edge/public/../admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sesame\r\n\r\n')
    t.match(authed.data, /\r\n\r\nGET \/admin$/, 'with the secret, /admin runs and sees the resolved path')
    const single = await exchange(port, 'GET /edge/public/./x/%2e/y HTTP/1.1\r\nHost: x\r\n\r\n')
    t.match(single.data, /\r\n\r\nGET \/public\/x\/y$/, 'single-dot segments vanish as in a URL parser')
    const above = await exchange(port, 'GET /../../edge/public/z HTTP/1.1\r\nHost: x\r\n\r\n')
    t.match(above.data, /\r\n\r\nGET \/public\/z$/, 'nothing climbs above the root')
  })

  t.test('Connection: close is honoured: answered, then closed', async (t) => {
    const result = await exchange(port, 'GET /edge/public/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    t.same(result.statuses, [200])
    t.ok(result.closed)
  })

  t.test('a Content-Length over the limit is answered 413 before the body is sent, then closed', async (t) => {
    const result = await exchange(port, 'POST /edge/public/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n')
    answer(413, result.data)
    t.equal(firstJson(result.data)?.error.code, 'BODY_TOO_LARGE')
    t.match(result.data, /Connection: close/i)
    t.ok(result.closed, 'closed without waiting for the body')
  })

  t.test('headers over 16 KiB are answered 431 HEADERS_TOO_LARGE, then closed', async (t) => {
    const big = `GET /edge/public/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`
    const result = await exchange(port, big)
    answer(431, result.data)
    t.equal(firstJson(result.data)?.error.code, 'HEADERS_TOO_LARGE')
    t.ok(result.closed)
    // Pipelined behind it, a request makes uWS end the connection (the answer is not yet written):
    // nothing after the refused request is ever served.
    const pipelined = await exchange(port, big + SECOND)
    t.notMatch(pipelined.data, /second/, 'the request after it is not served')
    t.ok(pipelined.closed)
  })

  t.test('an early refusal of a request with a body closes the connection: the body is never parsed as a request', async (t) => {
    const alone = await exchange(port, 'POST /edge/nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde')
    answer(404, alone.data)
    t.equal(firstJson(alone.data)?.error.code, 'ROUTE_NOT_FOUND')
    t.ok(alone.closed)
    const smuggled = await exchange(port, `POST /edge/nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde${SECOND}`)
    t.notMatch(smuggled.data, /second/, 'the request after the body is never served')
    t.ok(smuggled.closed)
  })

  t.test('a bad chunk (1\\r\\nAXX0) closes the connection, and the bytes after it are never parsed as a request', async (t) => {
    const bad = `Transfer-Encoding: chunked\r\n\r\n1\r\nAXX0\r\n\r\n${SECOND}`
    for (const path of ['/edge/public/a', '/edge/nowhere']) {
      const result = await exchange(port, `POST ${path} HTTP/1.1\r\nHost: x\r\n${bad}`)
      t.notMatch(result.data, /second/, `${path}: no second request`)
      t.ok(result.closed, `${path}: closed`)
      // uWS's parser refuses the chunk and closes before any answer: pinned, no 400 (uWS 20.30).
      t.ok(result.statuses.length === 0 || result.statuses[0] === 404, `${path}: no answer, or the refusal written before the body`)
    }
  })

  t.test('a valid chunked body reaches the script; a chunk extension is refused by closing (uWS 20.30, pinned)', async (t) => {
    const ok = await exchange(port, 'POST /edge/public/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')
    t.same(ok.statuses, [200])
    const extension = await exchange(port, 'POST /edge/public/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n', { waitMs: SILENT_MS })
    t.same(extension.statuses, [], 'no answer')
  })

  t.test('a Content-Length of 4 GiB or more is closed with no answer (uWS 20.30 refuses it in its parser, pinned)', async (t) => {
    const result = await exchange(port, 'POST /edge/public/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4294967296\r\n\r\nabc')
    t.ok(result.statuses.length === 0 || result.statuses[0] === 413, 'no answer, or 413')
    t.ok(result.closed)
  })

  t.test('what uWS 20.30 never hands to the gateway gets no answer (pinned: the README asks for a proxy in front)', async (t) => {
    const silent: Array<[string, string]> = [
      ['HTTP/1.0', 'GET /edge/public/a HTTP/1.0\r\nHost: x\r\n\r\n'],
      ['a malformed request line', 'GARBAGE\r\n\r\n'],
      ['an unknown HTTP version', 'GET /edge/public/a HTTP/9.9\r\nHost: x\r\n\r\n'],
      ['49 headers', `GET /edge/public/a HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 48 }, (_, i) => `h${i}: v\r\n`).join('')}\r\n`],
      ['an unknown method', 'FOO /edge/public/a HTTP/1.1\r\nHost: x\r\n\r\n'],
      ['an HTTP/1.1 request with no Host', 'GET /edge/public/a HTTP/1.1\r\n\r\n'],
    ]
    for (const [name, bytes] of silent) {
      const result = await exchange(port, bytes + SECOND, { waitMs: SILENT_MS })
      t.same(result.statuses, [], `${name}: no answer, and the request after it is not served`)
    }
  })

  t.test('a client that half-closes after its request gets no answer (uWS closes), and its run is recorded cancelled with 499', async (t) => {
    const result = await exchange(port, 'GET /edge/public/half HTTP/1.1\r\nHost: x\r\n\r\n', { halfClose: true })
    t.ok(result.closed)
    let row: any
    for (let i = 0; i < 100 && row === undefined; i++) {
      ;[row] = await isogate.db.system((tx) => tx`SELECT status, http_status, error FROM executions WHERE input->>'url' LIKE '%/public/half'`)
      if (row === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    t.match(row, { status: 'cancelled', http_status: 499, error: { code: 'CLIENT_ABORTED' } })
  })

  t.test('OPTIONS reaches the script that serves every method of the path; elsewhere a 204 with Allow', async (t) => {
    const preflight = 'Origin: http://app.example\r\nAccess-Control-Request-Method: POST\r\n'
    const script = await exchange(port, `OPTIONS /edge/public/p HTTP/1.1\r\nHost: x\r\n${preflight}\r\n`)
    t.match(script.data, /\r\n\r\nOPTIONS \/public\/p$/, 'the script answered the preflight')
    await api(isogate, 'POST', '/api/v1/scripts', {
      tenant: 'edge',
      body: { name: 'writer', type: 'http', source: echo, http: { path: '/shared', methods: ['POST'] } },
    })
    await api(isogate, 'POST', '/api/v1/scripts', {
      tenant: 'edge',
      body: { name: 'reader', type: 'http', source: echo, http: { path: '/shared', methods: ['GET'] } },
    })
    const plain = await exchange(port, `OPTIONS /edge/shared HTTP/1.1\r\nHost: x\r\n${preflight}\r\n`)
    t.same(plain.statuses, [204])
    t.match(plain.data, /\r\nallow: GET, HEAD, POST, OPTIONS\r\n/i)
    t.notMatch(plain.data, /access-control-allow-origin/i, 'no CORS grant by default')
  })

  t.test('an existing tenant with no such route is ROUTE_NOT_FOUND; an unknown tenant is TENANT_NOT_FOUND', async (t) => {
    await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'empty', name: 'empty' } })
    const noRoute = await exchange(port, 'GET /edge/nothing-here HTTP/1.1\r\nHost: x\r\n\r\n')
    t.equal(firstJson(noRoute.data)?.error.code, 'ROUTE_NOT_FOUND')
    const unknown = await exchange(port, 'GET /no-such-tenant/x HTTP/1.1\r\nHost: x\r\n\r\n')
    t.equal(firstJson(unknown.data)?.error.code, 'TENANT_NOT_FOUND')
    // A tenant whose only script was archived still exists.
    const created = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'empty', body: { name: 'gone', type: 'http', source: echo, http: { path: '/x', methods: ['GET'] } } })
    await api(isogate, 'PATCH', `/api/v1/scripts/${created.body.id}`, { tenant: 'empty', body: { status: 'archived' } })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const archived = await exchange(port, 'GET /empty/x HTTP/1.1\r\nHost: x\r\n\r\n')
    t.equal(firstJson(archived.data)?.error.code, 'ROUTE_NOT_FOUND')
  })
})
