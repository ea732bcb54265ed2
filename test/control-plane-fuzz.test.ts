import t from 'tap'
import { CONTROL_PLANE_ERRORS } from '../src/errors.js'
import { ADMIN_TOKEN, api, startTestIsogate } from './helpers/isogate.js'

/**
 * Every control-plane endpoint gets a few hundred generated bad inputs (in process, through
 * Fastify's inject: the socket is not the point here) and must answer each with a client error
 * in the one envelope, or a success: never a 500, never Fastify's own error shape.
 */
const PER_ENDPOINT = 200

/** A small seeded PRNG (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function deep(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value }
  return value
}

const DEEP_TEXT = `${'[{"a":'.repeat(2500)}1${'}]'.repeat(2500)}`

const cursorOf = (at: unknown, id: unknown): string => Buffer.from(JSON.stringify([at, id])).toString('base64url')

/** Hostile scalars and structures, the kinds the issue found answered 500 and more. */
const NASTY: unknown[] = [
  'a\u0000b',
  '\u0000',
  'x\uD800',
  '\uDC00y',
  '\uD83D',
  '',
  ' ',
  'x'.repeat(10_000),
  '%00',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  '😀',
  '\u202e',
  -1,
  0,
  1e308,
  -1e308,
  2 ** 53 + 1,
  3.5,
  true,
  null,
  [],
  {},
  [null],
  { __proto__: { polluted: 1 } },
  JSON.parse('{"__proto__": {"polluted": 1}}'),
  '__DEEP__',
  deep(70, 'x'),
  deep(100, '\u0000'),
  '275760-09-14T00:00:00.000Z',
  '+275761-01-01T00:00:00.000Z',
  '2024-13-45T25:61:61.000000Z',
  cursorOf('2024-13-45T25:61:61.000000Z', '00000000-0000-0000-0000-000000000000'),
  cursorOf('9999-02-30T00:00:00.000000Z', '00000000-0000-0000-0000-000000000000'),
  cursorOf(1, 2),
  'not base64 !!',
]

const QUERY_VALUES = ['%00', '%ZZ', '%', '%E0%A4%A', '%ED%A0%80', 'a%00b', '-1', '0', '1e999', 'NaN', '999999999999', '2024-13-45', '275760-09-14', 'true', '[]', '%5B%5D', encodeURIComponent(cursorOf('2024-02-30T00:00:00.000000Z', '00000000-0000-0000-0000-000000000000')), 'x'.repeat(3000)]
const QUERY_NAMES = ['q', 'limit', 'cursor', 'status', 'type', 'scriptId', 'resourceId', 'from', 'to', 'trigger', 'action', 'expression', 'timezone', 'count', 'async', 'unknown', '__proto__', 'a%00']
const PATH_IDS = ['%ZZ', '%00', '%E0%A4%A', 'x'.repeat(600), '..%2F..', '00000000-0000-0000-0000-000000000000', 'not-a-uuid', '-1', '1e9', '%2e%2e', '%F0%9F%98%80', 'a%20b']

interface Endpoint {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** `{id}` is replaced by a real or a hostile id. */
  path: string
  body: boolean
}

/**
 * Every operation the OpenAPI document lists under /api/v1: a route added later is fuzzed too
 * (the document test makes sure every route is in it).
 */
function endpointsOf(doc: any): Endpoint[] {
  const endpoints: Endpoint[] = []
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    if (!path.startsWith('/api/v1/')) continue
    for (const method of ['get', 'post', 'patch', 'delete'] as const) {
      if (item[method] === undefined) continue
      endpoints.push({ method: method.toUpperCase() as Endpoint['method'], path, body: method === 'post' || method === 'patch' })
    }
  }
  return endpoints
}

/** Valid-looking bodies per endpoint, so the fuzz also reaches past the first shape check. */
const SHAPES: Record<string, () => Record<string, unknown>> = {
  '/api/v1/tenants': () => ({ slug: 'fz', name: 'fuzz' }),
  '/api/v1/tenants/{slug}/keys': () => ({ role: 'viewer', name: 'k' }),
  '/api/v1/scripts': () => ({ name: 'fz', type: 'oneoff', source: 'export default { run() { return 1 } }', env: { A: 'b' } }),
  '/api/v1/scripts/{id}': () => ({ description: 'd', env: { A: 'b' } }),
  '/api/v1/scripts/{id}/rollback': () => ({ version: 1 }),
  '/api/v1/scripts/{id}/run': () => ({ input: { a: 1 } }),
  '/api/v1/events': () => ({ type: 'order.created', payload: { id: 1 }, idempotencyKey: 'k' }),
  '/api/v1/dead-letters/{id}/replay': () => ({}),
}

function pick<T>(next: () => number, list: readonly T[]): T {
  return list[Math.floor(next() * list.length)] as T
}

/** Puts a hostile value somewhere in a plausible body: a top field, a nested field, or as the whole body. */
function mutate(next: () => number, shape: Record<string, unknown>): unknown {
  const roll = next()
  if (roll < 0.1) return pick(next, NASTY)
  const body: Record<string, unknown> = structuredClone(shape)
  const keys = Object.keys(body)
  const value = pick(next, NASTY)
  if (roll < 0.6 && keys.length > 0) body[pick(next, keys)] = value
  else if (roll < 0.8) body[pick(next, ['env', 'payload', 'input', 'secrets', 'limits', 'http', 'cron', 'events'])] = { [pick(next, ['A', 'a\u0000', '\uD800', '__proto__'])]: value }
  else body[pick(next, ['unknown', '\u0000', 'x\uDC00'])] = value
  return body
}

t.test('the control plane under bad input', async (t) => {
  const isogate = await startTestIsogate(t)

  t.test('no control-plane endpoint answers 500 to a few hundred generated bad inputs each', async (t) => {
    await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'fuzz', name: 'fuzz' } })
    const script = await api(isogate, 'POST', '/api/v1/scripts', {
      tenant: 'fuzz',
      body: { name: 'target', type: 'oneoff', source: 'export default { run(input) { return input } }' },
    })
    t.equal(script.status, 201)
    const scriptId = script.body.id as string
    const codes = new Set(Object.keys(CONTROL_PLANE_ERRORS))
    const next = random(19)
    let requests = 0
    const failures: string[] = []

    const endpoints = endpointsOf((await isogate.api.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json())
    t.ok(endpoints.length >= 21, `${endpoints.length} endpoints`)
    for (const endpoint of endpoints) {
      const statuses = new Map<number, number>()
      for (let i = 0; i < PER_ENDPOINT; i++) {
        const id = next() < 0.3 ? scriptId : pick(next, PATH_IDS)
        let url = endpoint.path
          .replace('{id}', id)
          .replace('{slug}', next() < 0.5 ? 'fuzz' : pick(next, PATH_IDS))
          .replace('{version}', pick(next, ['1', '0', '-1', '1e3', '99999999999999999999', '%00', 'x']))
          .replace(/\{[^}]+\}/g, () => pick(next, PATH_IDS))
        if (!endpoint.body || next() < 0.3) {
          const pairs = Array.from({ length: 1 + Math.floor(next() * 3) }, () => `${pick(next, QUERY_NAMES)}=${pick(next, QUERY_VALUES)}`)
          url += `?${pairs.join('&')}`
        }
        const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-tenant': next() < 0.9 ? 'fuzz' : pick(next, ['nope', '%00', 'x'.repeat(300)]) }
        let payload: string | undefined
        if (endpoint.body) {
          const shape = SHAPES[endpoint.path]?.() ?? {}
          const roll = next()
          if (roll < 0.05) {
            payload = pick(next, ['{', '{"a":', '[1,2', 'null', '"x"', '\u0000', '{"a":"\\ud800"}', '{"a":"\\u0000"}', `${'['.repeat(100_000)}${']'.repeat(100_000)}`])
          } else {
            // 5000 levels: built as text, since JSON.stringify itself would overflow the stack.
            payload = JSON.stringify(mutate(next, shape)).replaceAll('"__DEEP__"', DEEP_TEXT)
          }
          headers['content-type'] = next() < 0.97 ? 'application/json' : pick(next, ['text/plain', 'application/xml', 'multipart/form-data; boundary=x'])
        }
        const response = await isogate.api.inject({ method: endpoint.method, url, headers, ...(payload === undefined ? {} : { payload }) })
        requests++
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
        if (response.statusCode >= 500) failures.push(`${endpoint.method} ${url.slice(0, 200)} ${String(payload).slice(0, 200)} -> ${response.statusCode} ${response.body.slice(0, 300)}`)
        else if (response.statusCode >= 400) {
          let body: any
          try {
            body = JSON.parse(response.body)
          } catch {
            body = null
          }
          const envelope = body !== null && typeof body.error === 'object' && typeof body.error.message === 'string' && codes.has(body.error.code)
          if (!envelope) failures.push(`${endpoint.method} ${url.slice(0, 200)} -> ${response.statusCode} not in the envelope: ${response.body.slice(0, 300)}`)
        }
      }
      t.comment(`${endpoint.method} ${endpoint.path}: ${[...statuses].map(([status, count]) => `${status}x${count}`).join(' ')}`)
    }
    t.equal(requests, endpoints.length * PER_ENDPOINT)
    t.same(failures.slice(0, 20), [], `no 500 and every error in the envelope (${failures.length} failures)`)
  })

  t.test('the guard names the field for NUL, a lone surrogate and deep nesting', async (t) => {
    await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'guard', name: 'guard' } })
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/v1/scripts', { name: 'n\u0000', type: 'oneoff', source: 'export default {}' }, 'name'],
      ['POST', '/api/v1/scripts', { name: 'n', type: 'oneoff', source: 'export default {}', env: { A: 'x\uD800' } }, 'env.A'],
      ['POST', '/api/v1/events', { type: 'a.b', payload: deep(500) }, 'payload'],
      ['POST', '/api/v1/events', { type: 'a.b', payload: {}, idempotencyKey: 'k\u0000' }, 'idempotencyKey'],
    ]
    for (const [method, url, body, field] of cases) {
      const response = await api(isogate, method, url, { tenant: 'guard', body })
      t.equal(response.status, 400, `${field}: 400`)
      t.equal(response.body.error.code, 'VALIDATION_FAILED')
      t.ok(response.body.error.details.fields[0].field.startsWith(field), `${field} is named (${response.body.error.details.fields[0].field})`)
    }
    const query = await api(isogate, 'GET', '/api/v1/scripts?q=%00', { tenant: 'guard' })
    t.match(query.body.error, { code: 'VALIDATION_FAILED', details: { fields: [{ field: 'query.q' }] } })
    const unknown = await api(isogate, 'GET', '/api/v1/scripts?colour=red', { tenant: 'guard' })
    t.match(unknown.body.error, { code: 'VALIDATION_FAILED', details: { fields: [{ field: 'colour' }] } }, 'an unknown query parameter is named, not "(body)"')
  })

  t.test('a wrong method is 405 with Allow; Fastify errors come in the one envelope', async (t) => {
    const wrong = await api(isogate, 'PUT', '/api/v1/scripts/abc')
    t.equal(wrong.status, 405)
    t.equal(wrong.headers.get('allow'), 'DELETE, GET, HEAD, PATCH')
    t.equal(wrong.body.error.code, 'METHOD_NOT_ALLOWED')
    const missing = await api(isogate, 'GET', '/api/v1/nothing')
    t.equal(missing.status, 404)
    t.equal(missing.body.error.code, 'NOT_FOUND')
    const badEscape = await api(isogate, 'GET', '/api/v1/scripts/%ZZ')
    t.equal(badEscape.status, 400)
    t.equal(badEscape.body.error.code, 'PATH_INVALID')
    const longId = await api(isogate, 'GET', `/api/v1/scripts/${'x'.repeat(600)}`)
    t.equal(longId.status, 400, 'an over-long id is 400')
    t.equal(longId.body.error.code, 'PATH_INVALID')
    // 431 comes from Node's parser, before Fastify: over a real socket.
    const headers = await fetch(`http://127.0.0.1:${isogate.adminPort}/healthz`, { headers: { 'x-big': 'a'.repeat(20_000) } })
    t.equal(headers.status, 431)
    t.same(await headers.json(), { error: { code: 'HEADERS_TOO_LARGE', message: CONTROL_PLANE_ERRORS.HEADERS_TOO_LARGE.message } })
  })
})
