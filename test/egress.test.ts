import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { EgressPolicy, GuardedFetch, type GuardedFetchOptions, type HostLookup, type OutboundRequest } from '../src/host/index.js'
import { REFUSED_LITERALS } from './helpers/egress.js'
import { rootPath } from './helpers/paths.js'

// Every socket here is on loopback. The allowed test server listens on 127.0.0.2 (the operator
// allows 127.0.0.2/32); canaries listen on 127.0.0.1 and ::1 on the same port and must never see
// a connection. No test sends a packet anywhere else.

const ALLOWED = '127.0.0.2'

interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: Buffer
}

interface Lab {
  port: number
  /** Requests the allowed server answered. */
  seen: Seen[]
  /** Connections the canaries on 127.0.0.1 and ::1 accepted. */
  canaryConnections: () => number
  origin: string
}

/** Remembers a server's sockets so teardown can end them (net.Server has no closeAllConnections). */
const sockets = new WeakMap<net.Server, Set<net.Socket>>()

function listen(server: net.Server, port: number, host: string): Promise<void> {
  const open = new Set<net.Socket>()
  sockets.set(server, open)
  server.on('connection', (socket: net.Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, ipv6Only: host.includes(':') }, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function closeAll(server: net.Server): Promise<void> {
  for (const socket of sockets.get(server) ?? []) socket.destroy()
  return new Promise((resolve) => server.close(() => resolve()))
}

function handle(seen: Seen[], request: http.IncomingMessage, response: http.ServerResponse, body: Buffer): void {
  const url = new URL(request.url ?? '/', 'http://x')
  seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body })
  const hops = /^\/chain\/(\d+)$/.exec(url.pathname)
  if (hops !== null) {
    const left = Number(hops[1])
    if (left === 0) return void response.end('end of chain')
    response.writeHead(302, { location: `/chain/${left - 1}` })
    return void response.end()
  }
  switch (url.pathname) {
    case '/echo':
      response.writeHead(201, 'Made Here', [['x-reply', 'yes'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['content-type', 'application/octet-stream']])
      return void response.end(body)
    case '/bytes':
      response.writeHead(200, { 'content-type': 'application/octet-stream' })
      return void response.end(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))
    case '/redirect':
      response.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' })
      return void response.end('moved')
    case '/big': {
      const size = Number(url.searchParams.get('bytes'))
      // Without content-length the body is chunked: only a running count can catch it.
      if (url.searchParams.get('declared') === '1') response.setHeader('content-length', size)
      response.writeHead(200)
      const chunk = Buffer.alloc(16 * 1024, 0x61)
      let sent = 0
      const pump = (): void => {
        while (sent < size) {
          const part = chunk.subarray(0, Math.min(chunk.length, size - sent))
          sent += part.length
          if (!response.write(part)) return void response.once('drain', pump)
        }
        response.end()
      }
      return pump()
    }
    case '/hang':
      return // never answers
    default:
      response.writeHead(404)
      response.end('no such path')
  }
}

/** An allowed HTTP server on 127.0.0.2:P and canaries on 127.0.0.1:P and [::1]:P. */
async function lab(t: Test): Promise<Lab> {
  for (let attempt = 0; ; attempt++) {
    const seen: Seen[] = []
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => handle(seen, request, response, Buffer.concat(chunks)))
    })
    await listen(server, 0, ALLOWED)
    const port = (server.address() as net.AddressInfo).port
    let connections = 0
    const canary4 = net.createServer((socket) => {
      connections++
      socket.destroy()
    })
    const canary6 = net.createServer((socket) => {
      connections++
      socket.destroy()
    })
    try {
      await listen(canary4, port, '127.0.0.1')
    } catch (error) {
      // Someone holds 127.0.0.1:P; try another port.
      await closeAll(server)
      if (attempt < 5) continue
      throw error
    }
    await listen(canary6, port, '::1').catch((error: unknown) => t.comment(`no IPv6 loopback canary: ${String(error)}`))
    t.teardown(() => Promise.all([closeAll(server), closeAll(canary4), canary6.listening ? closeAll(canary6) : undefined]))
    return { port, seen, canaryConnections: () => connections, origin: `http://${ALLOWED}:${port}` }
  }
}

/** A lookup from a table, counting calls; an entry may answer differently per call (rebinding). */
function lookupTable(table: Record<string, string[] | ((call: number) => string[])>): { lookup: HostLookup; calls: string[] } {
  const calls: string[] = []
  const lookup: HostLookup = async (hostname) => {
    calls.push(hostname)
    const entry = table[hostname]
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    const addresses = typeof entry === 'function' ? entry(calls.filter((name) => name === hostname).length) : entry
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  return { lookup, calls }
}

function client(options: Partial<GuardedFetchOptions> & { allowedHosts?: Record<string, string[]> } = {}): GuardedFetch {
  const { allowedHosts, ...rest } = options
  const policy = new EgressPolicy({ allowPrivateRanges: [`${ALLOWED}/32`], allowedHosts: (tenant) => allowedHosts?.[tenant] })
  return new GuardedFetch({ policy, timeoutMs: 5000, connectTimeoutMs: 2000, ...rest })
}

function get(url: string, extra: Partial<OutboundRequest> = {}): OutboundRequest {
  return { url, method: 'GET', headers: [], body: null, ...extra }
}

t.test('an operator-allowed server answers a real request: status, headers, body bytes and a POST body round-trip', async (t) => {
  const { origin, seen } = await lab(t)
  const http = client()
  const payload = new Uint8Array([0, 1, 2, 250, 255, 13, 10])
  const response = await http.fetch('tenant-1', {
    url: `${origin}/echo?q=1#fragment`,
    method: 'post',
    headers: [['content-type', 'application/x-test'], ['x-custom', 'v'], ['connection', 'x-drop'], ['x-drop', 'gone'], ['host', 'evil.test']],
    body: payload,
  })
  t.equal(response.status, 201)
  t.equal(response.statusText, 'Made Here')
  t.equal(response.url, `${origin}/echo?q=1`)
  t.equal(response.redirected, false)
  t.same(Array.from(response.body), Array.from(payload))
  t.same(response.headers.filter(([name]) => name === 'set-cookie'), [['set-cookie', 'a=1'], ['set-cookie', 'b=2']])
  t.ok(response.headers.some(([name, value]) => name === 'x-reply' && value === 'yes'))
  t.notOk(response.headers.some(([name]) => name === 'connection' || name === 'keep-alive'), 'hop-by-hop response headers are dropped')

  t.equal(seen.length, 1)
  const [request] = seen
  t.equal(request?.method, 'POST')
  t.equal(request?.url, '/echo?q=1')
  t.equal(request?.headers.host, `${ALLOWED}:${new URL(origin).port}`, 'Host names the checked host, never the script\'s')
  t.equal(request?.headers['content-length'], String(payload.length))
  t.equal(request?.headers['x-custom'], 'v')
  t.equal(request?.headers['x-drop'], undefined, 'a header named in Connection is hop-by-hop and dropped')
  t.equal(request?.headers['accept-encoding'], 'identity')

  const text = await http.fetch('tenant-1', { url: `${origin}/echo`, method: 'PUT', headers: [], body: 'héllo' })
  t.equal(Buffer.from(text.body).toString('utf8'), 'héllo')
  const bytes = await http.fetch('tenant-1', get(`${origin}/bytes`))
  t.same(Array.from(bytes.body), Array.from({ length: 256 }, (_, i) => i))
})

t.test('literal loopback and unspecified addresses in every encoding are refused before connecting: the canaries see nothing', async (t) => {
  const { port, canaryConnections } = await lab(t)
  const { lookup, calls } = lookupTable({})
  const http = client({ lookup })
  const local = REFUSED_LITERALS.filter((literal) => literal.local)
  t.ok(local.length >= 15, 'the list covers the local encodings')
  for (const { url, reason } of local) {
    const error = await http.fetch('tenant-1', get(`${url}:${port}/`)).then(
      () => null,
      (error: unknown) => error as { code?: string; message?: string },
    )
    t.equal(error?.code, 'EGRESS_DENIED', `${url}:${port} is refused`)
    t.match(error?.message?.replace(/^EGRESS_DENIED: /, ''), reason, `${url}: ${error?.message}`)
  }
  t.same(calls, [], 'a literal is never resolved')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(canaryConnections(), 0)
})

t.test('a zone-scoped IPv6 literal is an invalid request', async (t) => {
  await t.rejects(client().fetch('tenant-1', get('http://[fe80::1%25eth0]/')), { code: 'EGRESS_INVALID_REQUEST' })
})

t.test('a name that resolves to 127.0.0.1 is refused and the canary sees no connection', async (t) => {
  const { port, canaryConnections } = await lab(t)
  const { lookup, calls } = lookupTable({ 'evil.test': ['127.0.0.1'], 'mixed.test': [ALLOWED, '127.0.0.1'], 'v6.test': ['::1'] })
  const http = client({ lookup })
  await t.rejects(http.fetch('tenant-1', get(`http://evil.test:${port}/`)), {
    name: 'EgressError',
    code: 'EGRESS_DENIED',
    message: 'EGRESS_DENIED: evil.test resolves to a refused address: 127.0.0.1 is loopback',
  })
  await t.rejects(http.fetch('tenant-1', get(`http://mixed.test:${port}/`)), { code: 'EGRESS_DENIED', message: /127\.0\.0\.1 is loopback/ })
  await t.rejects(http.fetch('tenant-1', get(`http://v6.test:${port}/`)), { code: 'EGRESS_DENIED', message: /::1 is loopback/ })
  t.same(calls, ['evil.test', 'mixed.test', 'v6.test'])
  t.equal(canaryConnections(), 0)
})

t.test('a redirect from the allowed server to loopback is refused with EGRESS_DENIED and the canary sees no connection', async (t) => {
  const { origin, port, seen, canaryConnections } = await lab(t)
  const { lookup } = lookupTable({ 'evil.test': ['127.0.0.1'] })
  const http = client({ lookup })
  for (const to of [`http://127.0.0.1:${port}/`, `http://2130706433:${port}/`, `http://[::1]:${port}/`, `http://evil.test:${port}/`, `http://[::ffff:7f00:1]:${port}/`]) {
    await t.rejects(http.fetch('tenant-1', get(`${origin}/redirect?to=${encodeURIComponent(to)}`)), { code: 'EGRESS_DENIED', message: /is loopback/ }, to)
  }
  await t.rejects(http.fetch('tenant-1', get(`${origin}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`)), {
    code: 'EGRESS_DENIED',
    message: /only http: and https:/,
  })
  t.equal(seen.length, 6, 'the allowed server saw each first hop')
  t.equal(canaryConnections(), 0)
})

t.test('five redirects are followed and a sixth fails with EGRESS_REDIRECT_LIMIT', async (t) => {
  const { origin, seen } = await lab(t)
  const http = client()
  const five = await http.fetch('tenant-1', get(`${origin}/chain/5`))
  t.equal(five.status, 200)
  t.equal(Buffer.from(five.body).toString(), 'end of chain')
  t.equal(five.url, `${origin}/chain/0`)
  t.equal(five.redirected, true)
  t.equal(seen.length, 6)
  seen.length = 0
  await t.rejects(http.fetch('tenant-1', get(`${origin}/chain/6`)), { name: 'EgressError', code: 'EGRESS_REDIRECT_LIMIT', message: /more than 5 redirects/ })
  t.equal(seen.length, 6, 'the seventh request is never sent')
})

t.test('redirects follow fetch: 303 and 302-after-POST become GET without body, 307 keeps it, credentials stay with their origin', async (t) => {
  const { origin, port, seen } = await lab(t)
  const { lookup } = lookupTable({ 'other.test': [ALLOWED] })
  const http = client({ lookup })
  const post = (status: number, to: string): OutboundRequest => ({
    url: `${origin}/redirect?status=${status}&to=${encodeURIComponent(to)}`,
    method: 'POST',
    headers: [['content-type', 'text/plain'], ['authorization', 'Bearer s3cret'], ['cookie', 'sid=1']],
    body: 'payload',
  })
  for (const status of [303, 302, 301]) {
    seen.length = 0
    await http.fetch('tenant-1', post(status, '/echo'))
    t.equal(seen[1]?.method, 'GET', `${status} after POST is a GET`)
    t.equal(seen[1]?.body.length, 0)
    t.equal(seen[1]?.headers['content-type'], undefined)
    t.equal(seen[1]?.headers.authorization, 'Bearer s3cret', 'same origin keeps credentials')
  }
  for (const status of [307, 308]) {
    seen.length = 0
    const response = await http.fetch('tenant-1', post(status, '/echo'))
    t.equal(seen[1]?.method, 'POST', `${status} keeps the method`)
    t.equal(Buffer.from(response.body).toString(), 'payload', `${status} keeps the body`)
  }
  seen.length = 0
  await http.fetch('tenant-1', post(307, `http://other.test:${port}/echo`))
  t.equal(seen[1]?.headers.host, `other.test:${port}`)
  t.equal(seen[1]?.headers.authorization, undefined, 'authorization is dropped across origins')
  t.equal(seen[1]?.headers.cookie, undefined, 'cookie is dropped across origins')
})

t.test("redirect 'manual' answers the 3xx itself and 'error' fails", async (t) => {
  const { origin, seen } = await lab(t)
  const http = client()
  const manual = await http.fetch('tenant-1', get(`${origin}/redirect?to=${encodeURIComponent('http://127.0.0.1/')}`, { redirect: 'manual' }))
  t.equal(manual.status, 302)
  t.same(manual.headers.find(([name]) => name === 'location'), ['location', 'http://127.0.0.1/'])
  t.equal(Buffer.from(manual.body).toString(), 'moved')
  t.equal(manual.redirected, false)
  await t.rejects(http.fetch('tenant-1', get(`${origin}/redirect?to=/echo`, { redirect: 'error' })), { code: 'EGRESS_FAILED', message: /redirect is 'error'/ })
  t.equal(seen.length, 2, 'neither followed')
})

t.test('a response over the size cap fails with EGRESS_RESPONSE_TOO_LARGE, declared or chunked', async (t) => {
  const { origin } = await lab(t)
  const http = client({ maxResponseBytes: 100_000 })
  const exact = await http.fetch('tenant-1', get(`${origin}/big?bytes=100000`))
  t.equal(exact.body.byteLength, 100_000, 'exactly the cap is allowed')
  await t.rejects(http.fetch('tenant-1', get(`${origin}/big?bytes=100001`)), {
    code: 'EGRESS_RESPONSE_TOO_LARGE',
    message: /sent more than 100000 bytes/,
  })
  await t.rejects(http.fetch('tenant-1', get(`${origin}/big?bytes=5000000&declared=1`)), {
    code: 'EGRESS_RESPONSE_TOO_LARGE',
    message: /declares 5000000 bytes/,
  })
  await t.rejects(http.fetch('tenant-1', get(`${origin}/big?bytes=5000000`)), { code: 'EGRESS_RESPONSE_TOO_LARGE' })
})

t.test('a server that never answers fails with EGRESS_TIMEOUT within the total timeout', async (t) => {
  const { origin } = await lab(t)
  const http = client({ timeoutMs: 300 })
  const started = performance.now()
  await t.rejects(http.fetch('tenant-1', get(`${origin}/hang`)), { code: 'EGRESS_TIMEOUT', message: /no complete response within 300 ms/ })
  const elapsed = performance.now() - started
  t.ok(elapsed >= 250 && elapsed < 2000, `gave up after ${Math.round(elapsed)} ms`)
})

t.test('a TLS server that never completes the handshake fails with EGRESS_TIMEOUT after the connect timeout', async (t) => {
  const silent = net.createServer(() => {
    // Accepts and says nothing: the TLS handshake never completes.
  })
  await listen(silent, 0, ALLOWED)
  t.teardown(() => closeAll(silent))
  const { lookup } = lookupTable({ 'silent.test': [ALLOWED] })
  const http = client({ lookup, connectTimeoutMs: 200, timeoutMs: 5000 })
  const started = performance.now()
  const port = (silent.address() as net.AddressInfo).port
  await t.rejects(http.fetch('tenant-1', get(`https://silent.test:${port}/`)), { code: 'EGRESS_TIMEOUT', message: /could not connect to silent\.test:\d+ within 200 ms/ })
  t.ok(performance.now() - started < 4000, 'well before the 5 s total timeout')
})

t.test('the caller\'s signal aborts a request with EGRESS_ABORTED', async (t) => {
  const { origin } = await lab(t)
  const http = client()
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 100)
  await t.rejects(http.fetch('tenant-1', get(`${origin}/hang`), controller.signal), { code: 'EGRESS_ABORTED' })
  await t.rejects(http.fetch('tenant-1', get(`${origin}/echo`), AbortSignal.abort()), { code: 'EGRESS_ABORTED' })
})

t.test('a tenant allowlist refuses an unlisted host before resolving it, and a redirect to one', async (t) => {
  const { port, seen, canaryConnections } = await lab(t)
  // If the guard failed, these names would lead to loopback only.
  const { lookup, calls } = lookupTable({ 'api.allowed.test': [ALLOWED], 'other.example.com': ['127.0.0.1'] })
  const http = client({ lookup, allowedHosts: { acme: ['*.allowed.test'] } })
  await t.rejects(http.fetch('acme', get(`http://other.example.com:${port}/`)), {
    code: 'EGRESS_DENIED',
    message: "EGRESS_DENIED: other.example.com is not on this tenant's list of allowed hosts",
  })
  t.same(calls, [], 'decided without resolving')
  const listed = await http.fetch('acme', get(`http://api.allowed.test:${port}/echo`))
  t.equal(listed.status, 201)
  await t.rejects(http.fetch('acme', get(`http://api.allowed.test:${port}/redirect?to=${encodeURIComponent(`http://other.example.com:${port}/`)}`)), {
    code: 'EGRESS_DENIED',
    message: /not on this tenant's list/,
  })
  t.equal(seen.length, 2)
  t.equal(canaryConnections(), 0)
})

t.test('DNS is resolved once per hop and the connection goes to the checked address: a rebinding name never reaches 127.0.0.1', async (t) => {
  const { port, seen, canaryConnections } = await lab(t)
  // First answer allowed, every later one loopback: a second resolution anywhere would reach the canary.
  const { lookup, calls } = lookupTable({ 'rebind.test': (call) => (call === 1 ? [ALLOWED] : ['127.0.0.1']) })
  const http = client({ lookup })
  const response = await http.fetch('tenant-1', get(`http://rebind.test:${port}/echo`))
  t.equal(response.status, 201)
  t.same(calls, ['rebind.test'], 'exactly one resolution for one hop')
  t.equal(seen.length, 1)

  await t.rejects(http.fetch('tenant-1', get(`http://rebind.test:${port}/echo`)), { code: 'EGRESS_DENIED', message: /127\.0\.0\.1 is loopback/ })
  t.same(calls, ['rebind.test', 'rebind.test'], 'a new request resolves again, and is checked again')

  const { lookup: hopLookup, calls: hopCalls } = lookupTable({ 'rebind.test': (call) => (call === 1 ? [ALLOWED] : ['127.0.0.1']) })
  await t.rejects(client({ lookup: hopLookup }).fetch('tenant-1', get(`http://rebind.test:${port}/redirect?to=/echo`)), {
    code: 'EGRESS_DENIED',
    message: /127\.0\.0\.1 is loopback/,
  })
  t.same(hopCalls, ['rebind.test', 'rebind.test'], 'one resolution per hop; the second hop is checked afresh')
  t.equal(seen.length, 2)
  t.equal(canaryConnections(), 0)
})

t.test('https connects to the checked address with the real name for SNI and verifies the certificate', async (t) => {
  const fixtures = pathToFileURL(rootPath('test/fixtures/'))
  const names: string[] = []
  const server = https.createServer({
    key: readFileSync(new URL('egress-tls.key', fixtures)),
    cert: readFileSync(new URL('egress-tls.crt', fixtures)),
    SNICallback: (servername, callback) => {
      names.push(servername)
      callback(null)
    },
  })
  await listen(server, 0, ALLOWED)
  t.teardown(() => closeAll(server))
  const port = (server.address() as net.AddressInfo).port
  const { lookup, calls } = lookupTable({ 'tls.test': [ALLOWED] })
  await t.rejects(client({ lookup }).fetch('tenant-1', get(`https://tls.test:${port}/`)), {
    code: 'EGRESS_FAILED',
    message: /^EGRESS_FAILED: the request to tls\.test:\d+ failed: TLS failed \(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT\)/,
  })
  t.same(names, ['tls.test'], 'SNI carries the host name, not the address')
  t.same(calls, ['tls.test'])
})

t.test('network failures are EGRESS_FAILED with a short reason', async (t) => {
  const closed = net.createServer()
  await listen(closed, 0, ALLOWED)
  const port = (closed.address() as net.AddressInfo).port
  await closeAll(closed)
  const { lookup } = lookupTable({})
  const http = client({ lookup })
  await t.rejects(http.fetch('tenant-1', get(`http://${ALLOWED}:${port}/`)), { code: 'EGRESS_FAILED', message: /connection refused$/ })
  await t.rejects(http.fetch('tenant-1', get('http://nowhere.test/')), { code: 'EGRESS_FAILED', message: 'EGRESS_FAILED: could not resolve nowhere.test' })
})

t.test('a malformed request is refused with EGRESS_INVALID_REQUEST and an oversized body with EGRESS_REQUEST_TOO_LARGE', async (t) => {
  const { origin, seen } = await lab(t)
  const http = client({ maxRequestBytes: 10 })
  const invalid: Array<[Partial<OutboundRequest>, RegExp]> = [
    [{ url: 'not a url' }, /not a valid absolute URL/],
    [{ url: 42 as unknown as string }, /url must be a string/],
    [{ method: 'GE T' }, /method must be an HTTP token/],
    [{ method: 'CONNECT' }, /method CONNECT is not allowed/],
    [{ method: 'TRACE' }, /method TRACE is not allowed/],
    [{ headers: [['x-a', 'b\r\nx-injected: 1']] }, /contains CR, LF or NUL/],
    [{ headers: [['bad name', 'v']] }, /not a valid header name/],
    [{ headers: { a: 'b' } as unknown as Array<[string, string]> }, /list of \[name, value\] pairs/],
    [{ body: 'x' }, /a GET request cannot have a body/],
    [{ method: 'POST', body: 42 as unknown as string }, /body must be a string, bytes or null/],
    [{ redirect: 'sometimes' as 'follow' }, /redirect must be/],
  ]
  for (const [fields, message] of invalid) {
    await t.rejects(http.fetch('tenant-1', get(`${origin}/echo`, fields)), { name: 'EgressError', code: 'EGRESS_INVALID_REQUEST', message }, String(message))
  }
  await t.rejects(http.fetch('tenant-1', { url: `${origin}/echo`, method: 'POST', headers: [], body: 'eleven byte' }), {
    code: 'EGRESS_REQUEST_TOO_LARGE',
    message: /11 bytes, over the 10-byte limit/,
  })
  t.equal(seen.length, 0, 'nothing was sent')
})

t.test('GuardedFetch checks its options and names the field', async (t) => {
  const policy = new EgressPolicy()
  t.throws(() => new GuardedFetch({} as GuardedFetchOptions), { name: 'TypeError', message: /options\.policy/ })
  t.throws(() => new GuardedFetch({ policy, timeoutMs: 0 }), { name: 'RangeError', message: /options\.timeoutMs must be a positive integer/ })
  t.throws(() => new GuardedFetch({ policy, connectTimeoutMs: 1.5 }), { name: 'TypeError', message: /options\.connectTimeoutMs/ })
  t.throws(() => new GuardedFetch({ policy, maxResponseBytes: -1 }), { name: 'RangeError', message: /options\.maxResponseBytes/ })
  t.throws(() => new GuardedFetch({ policy, maxRedirects: 21 }), { name: 'RangeError', message: /options\.maxRedirects/ })
  t.throws(() => new GuardedFetch({ policy, lookup: 'dns' as unknown as HostLookup }), { name: 'TypeError', message: /options\.lookup/ })
})

t.test('a host and port the operator mapped reach a server on loopback over verified TLS, with the real name for Host and SNI', async (t) => {
  const fixtures = pathToFileURL(rootPath('test/fixtures/cloudflare-examples/'))
  const names: string[] = []
  const seen: Seen[] = []
  const server = https.createServer(
    {
      key: readFileSync(new URL('upstream.key', fixtures)),
      cert: readFileSync(new URL('upstream.crt', fixtures)),
      SNICallback: (servername, callback) => {
        names.push(servername)
        callback(null)
      },
    },
    (request, response) => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.alloc(0) })
      response.end('mapped')
    },
  )
  await listen(server, 0, '127.0.0.1')
  t.teardown(() => closeAll(server))
  const port = (server.address() as net.AddressInfo).port
  const extraCa = readFileSync(new URL('upstream-ca.crt', fixtures), 'utf8')
  const { lookup, calls } = lookupTable({})
  const mapped = (options: Partial<GuardedFetchOptions> = {}): GuardedFetch =>
    new GuardedFetch({ policy: new EgressPolicy({ resolve: [`example.com:443:127.0.0.1:${port}`] }), lookup, timeoutMs: 5000, connectTimeoutMs: 2000, ...options })

  const response = await mapped({ extraCa }).fetch('tenant-1', get('https://example.com/hello?x=1'))
  t.equal(response.status, 200)
  t.equal(Buffer.from(response.body).toString(), 'mapped')
  t.equal(response.url, 'https://example.com/hello?x=1')
  t.same(names, ['example.com'], 'SNI carries the mapped name')
  t.equal(seen[0]?.headers.host, 'example.com', 'Host is the name the script asked for, without the mapped port')
  t.equal(seen[0]?.url, '/hello?x=1')

  await t.rejects(mapped().fetch('tenant-1', get('https://example.com/')), { code: 'EGRESS_FAILED', message: /TLS failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY\)/ }, 'without the operator CA the certificate is not trusted')
  await t.rejects(mapped({ extraCa }).fetch('tenant-1', get(`https://127.0.0.1:${port}/`)), { code: 'EGRESS_DENIED', message: /127\.0\.0\.1 is loopback/ }, 'the mapped port is not open by address')
  await t.rejects(mapped({ extraCa }).fetch('tenant-1', get(`https://example.com:${port}/`)), { code: 'EGRESS_FAILED', message: /could not resolve example\.com/ }, 'another port of the mapped name is resolved as usual (here by a table that knows no name)')
  t.same(calls, ['example.com'])
  t.equal(seen.length, 1, 'only the request over a trusted certificate reached the server; the others never sent one')
  t.throws(() => new GuardedFetch({ policy: new EgressPolicy(), extraCa: 'not a certificate' }), { message: /options\.extraCa must be PEM text/ })
})
