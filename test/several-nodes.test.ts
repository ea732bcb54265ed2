import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { databaseTargets } from './helpers/databases.js'
import { liveIsolates } from './helpers/runner-isolates.js'
import { ADMIN_TOKEN } from './helpers/isogate.js'
import { nodeArgs, ROOT } from './helpers/paths.js'
import { tempFolder } from './helpers/temp.js'

const server = databaseTargets().find((target) => target.name === 'server')

interface Node {
  process: ChildProcess
  adminPort: number
  dataPort: number
}

async function startNode(t: Test, url: string): Promise<Node> {
  const child = spawn(process.execPath, [...nodeArgs('test/fixtures/isogate-process.ts'), url, tempFolder(t, 'isogate-node-')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()))
  return new Promise<Node>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process did not start: ${err}`)), 240_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) {
        clearTimeout(timer)
        const ports = JSON.parse(line) as { adminPort: number; dataPort: number }
        resolve({ process: child, adminPort: ports.adminPort, dataPort: ports.dataPort })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`process exited ${code}: ${err}`))
    })
  })
}

async function api(node: Node, method: string, path: string, body?: unknown, tenant?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (tenant) headers['x-tenant'] = tenant
  const response = await fetch(`http://127.0.0.1:${node.adminPort}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

/** What one node answers now: `${status} ${body}`. */
async function ask(node: Node, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${node.dataPort}${path}`)
  return `${response.status} ${await response.text()}`
}

/**
 * Polls every node until each answers `expected` (a predicate on its answer); resolves with the
 * time the slowest took, measured from `since` (when the changing call was answered).
 */
async function agreed(nodes: Node[], path: string, expected: (answer: string) => boolean, since: number, deadlineMs = 5000): Promise<number> {
  const took = await Promise.all(
    nodes.map(async (node) => {
      for (;;) {
        if (expected(await ask(node, path))) return performance.now() - since
        if (performance.now() - since > deadlineMs) throw new Error(`node ${node.dataPort} still answers ${await ask(node, path)}`)
        await sleep(10)
      }
    }),
  )
  return Math.max(...took)
}

/**
 * Every node's live isolate count once it equals `want` (asked again for up to 2 s): a node evicts
 * a tenant after its gate refuses it, and an isolate with a run in flight goes when that run ends.
 */
async function settledIsolates(nodes: Node[], want: number[]): Promise<number[]> {
  const deadline = performance.now() + 2000
  for (;;) {
    const counts = await Promise.all(nodes.map(isolates))
    if (counts.every((count, i) => count === want[i]) || performance.now() > deadline) return counts
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Live tenant isolates on one node's runners. */
function isolates(node: Node): Promise<number> {
  return liveIsolates(node.adminPort)
}

const source = (text: string) => `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`

t.test(
  'three isogate processes on one PostgreSQL server agree within 1 s on a new tenant, a deploy, a rollback, a status change, a quota change, a suspension and a deletion made on any one of them, and each lets go of the tenant\'s isolates',
  { skip: server ? false : 'needs a PostgreSQL server: set TEST_DATABASE_URL (CI does)', timeout: 600_000 },
  async (t) => {
    const url = (await server!.createUrl())!
    t.teardown(() => server!.cleanup())
    const first = await startNode(t, url)
    const nodes = [first, ...(await Promise.all([startNode(t, url), startNode(t, url)]))]
    t.teardown(async () => {
      for (const node of nodes) {
        if (node.process.exitCode === null && node.process.signalCode === null) {
          node.process.kill('SIGTERM')
          await once(node.process, 'exit')
        }
      }
    })
    const [a, b, c] = nodes as [Node, Node, Node]
    const timings: Record<string, number> = {}

    t.equal((await api(a, 'POST', '/api/v1/tenants', { slug: 'fleet', name: 'Fleet' })).status, 201)
    let since = performance.now()
    // Known on every node before it has a script: no route is ROUTE_NOT_FOUND, not TENANT_NOT_FOUND.
    timings.tenantCreate = await agreed(nodes, '/fleet/hello', (answer) => answer.startsWith('404 ') && answer.includes('ROUTE_NOT_FOUND'), since)
    await agreed(nodes, '/nobody/hello', (answer) => answer.startsWith('404 ') && answer.includes('TENANT_NOT_FOUND'), performance.now())
    since = performance.now()
    const created = await api(b, 'POST', '/api/v1/scripts', { name: 'hello', source: source('v1'), http: { path: '/hello' } }, 'fleet')
    t.equal(created.status, 201)
    since = performance.now()
    timings.deploy = await agreed(nodes, '/fleet/hello', (answer) => answer === '200 v1', since)

    t.equal((await api(c, 'PATCH', `/api/v1/scripts/${created.body.id}`, { source: source('v2') }, 'fleet')).status, 200)
    since = performance.now()
    timings.newVersion = await agreed(nodes, '/fleet/hello', (answer) => answer === '200 v2', since)

    t.equal((await api(a, 'POST', `/api/v1/scripts/${created.body.id}/rollback`, { version: 1 }, 'fleet')).status, 200)
    since = performance.now()
    timings.rollback = await agreed(nodes, '/fleet/hello', (answer) => answer === '200 v1', since)

    t.equal((await api(b, 'PATCH', `/api/v1/scripts/${created.body.id}`, { status: 'paused' }, 'fleet')).status, 200)
    since = performance.now()
    timings.statusChange = await agreed(nodes, '/fleet/hello', (answer) => answer.startsWith('404 '), since)
    t.equal((await api(b, 'PATCH', `/api/v1/scripts/${created.body.id}`, { status: 'active' }, 'fleet')).status, 200)
    await agreed(nodes, '/fleet/hello', (answer) => answer === '200 v1', performance.now())

    // 0.5 requests a second with a burst of 1: a node that has the new quota refuses its second request.
    t.equal((await api(c, 'PUT', '/api/v1/tenants/fleet/quota', { requestsPerSecond: 0.5 })).status, 200)
    since = performance.now()
    timings.quota = await agreed(nodes, '/fleet/hello', (answer) => answer.startsWith('429 ') && answer.includes('TENANT_RATE_LIMITED'), since)
    t.equal((await api(c, 'PUT', '/api/v1/tenants/fleet/quota', {})).status, 200)

    t.equal((await api(a, 'POST', '/api/v1/tenants/fleet/suspend')).status, 200)
    since = performance.now()
    timings.suspend = await agreed(nodes, '/fleet/hello', (answer) => answer.startsWith('403 ') && answer.includes('TENANT_SUSPENDED'), since)
    await agreed(nodes, '/fleet/nowhere', (answer) => answer.startsWith('403 ') && answer.includes('TENANT_SUSPENDED'), performance.now())
    t.same(await settledIsolates(nodes, [0, 0, 0]), [0, 0, 0], 'every node disposed the suspended tenant\'s isolate')
    t.equal((await api(b, 'POST', '/api/v1/tenants/fleet/resume')).status, 200)
    since = performance.now()
    timings.resume = await agreed(nodes, '/fleet/hello', (answer) => answer === '200 v1', since)
    t.same(await Promise.all(nodes.map(isolates)), [1, 1, 1], 'each node ran it again in a fresh isolate')

    t.equal((await api(c, 'DELETE', '/api/v1/tenants/fleet')).status, 204)
    since = performance.now()
    timings.delete = await agreed(nodes, '/fleet/hello', (answer) => answer.startsWith('404 ') && answer.includes('TENANT_NOT_FOUND'), since)
    t.same(await settledIsolates(nodes, [0, 0, 0]), [0, 0, 0], 'every node disposed the deleted tenant\'s isolate')

    t.comment(`slowest node to agree, ms after the API answered: ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`)
    for (const [change, ms] of Object.entries(timings)) t.ok(ms < 1000, `${change}: every node within 1 s (${Math.round(ms)} ms)`)
  },
)
