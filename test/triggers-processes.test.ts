import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import t, { type Test } from 'tap'
import { ADMIN_TOKEN } from './helpers/isogate.js'
import { databaseTargets } from './helpers/databases.js'
import { until } from './helpers/until.js'
import { nodeArgs, ROOT } from './helpers/paths.js'
import { tempFolder } from './helpers/temp.js'

const server = databaseTargets().find((target) => target.name === 'server')

interface Child {
  process: ChildProcess
  adminPort: number
}

/**
 * Starts one isogate process on `url` with this test's own node flags (its TypeScript loader),
 * so the process and its runner processes load the sources as the test does; resolves when it
 * has printed its ports.
 */
async function startProcess(t: Test, url: string): Promise<Child> {
  const child = spawn(process.execPath, [...nodeArgs('test/fixtures/isogate-process.ts'), url, tempFolder(t, 'isogate-node-')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()))
  return new Promise<Child>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process did not start: ${err}`)), 60_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) {
        clearTimeout(timer)
        resolve({ process: child, adminPort: (JSON.parse(line) as { adminPort: number }).adminPort })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`process exited ${code}: ${err}`))
    })
  })
}

async function call(child: Child, method: string, path: string, body?: unknown, tenant?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (tenant) headers['x-tenant'] = tenant
  const response = await fetch(`http://127.0.0.1:${child.adminPort}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

t.test('three processes on one database run each per-second slot exactly once, also when one is killed with SIGKILL', { skip: server ? false : 'needs a PostgreSQL server: set TEST_DATABASE_URL (CI does)', timeout: 180_000 }, async (t) => {
  const url = (await server!.createUrl())!
  t.teardown(() => server!.cleanup())
  // Migrations first, once, so three processes do not queue on the advisory lock at start.
  const first = await startProcess(t, url)
  const others = await Promise.all([startProcess(t, url), startProcess(t, url)])
  const children = [first, ...others]
  t.teardown(async () => {
    for (const child of children) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill('SIGTERM')
        await once(child.process, 'exit')
      }
    }
  })

  t.equal((await call(first, 'POST', '/api/v1/tenants', { slug: 'multi', name: 'Multi' })).status, 201)
  const created = await call(first, 'POST', '/api/v1/scripts', {
    name: 'every-second',
    type: 'scheduled',
    cron: { expression: '* * * * * *' },
    limits: { timeoutMs: 1000 },
    source: 'export default { scheduled(controller) { return { at: controller.scheduledTime } } }',
  }, 'multi')
  t.equal(created.status, 201, 'script created')
  const id = created.body.id as string
  const startedAt = Date.now()
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  t.teardown(() => sql.end())
  const count = async (query: Promise<Array<{ n: number }>>): Promise<number> => (await query)[0]?.n ?? 0
  const fireCount = (): Promise<number> => count(sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM cron_fires WHERE script_id = ${id}`)

  // Waits on what the phases need, not a clock: the victim has claimed a slot of its own (so the
  // kill can cost a slot), and a few slots have run. claimed_by is `host:pid:random`.
  const victim = others[0]!
  const victimClaims = (): Promise<number> => count(sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM cron_fires WHERE script_id = ${id} AND claimed_by LIKE ${`%:${victim.process.pid}:%`}`)
  await until('a slot claimed by the victim and four slots in all', async () => [await victimClaims(), await fireCount()], ([mine, all]) => mine! >= 1 && all! >= 4, 30_000, 100)
  victim.process.kill('SIGKILL')
  await once(victim.process, 'exit')
  // A fire the victim held is taken care of (failed as abandoned) once its lease has passed
  // (timeoutMs 1 s + the fixture's lease margin 1 s) and a survivor polled; then three more slots run.
  await sleep(2_500)
  await until('no expired lease left running', () => count(sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM cron_fires WHERE script_id = ${id} AND status = 'running' AND lease_until <= now()`), (n) => n === 0, 20_000, 100)
  const afterRecovery = await fireCount()
  await until('three slots after the recovery', fireCount, (n) => n >= afterRecovery + 3, 20_000, 100)
  t.equal((await call(first, 'PATCH', `/api/v1/scripts/${id}`, { status: 'paused' }, 'multi')).status, 200)
  const stoppedAt = Date.now()
  // The fire in flight at the pause ends (timeoutMs 1 s) and its record reaches the table.
  await until('no fire running after the pause', () => count(sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM cron_fires WHERE script_id = ${id} AND status = 'running'`), (n) => n === 0, 20_000, 100)
  await sleep(1_000)
  const executions = await sql<Array<{ slot: string; n: number; statuses: string[] }>>`
    SELECT input->>'scheduledTime' AS slot, count(*)::int AS n, array_agg(status) AS statuses
    FROM executions WHERE script_id = ${id} GROUP BY 1 ORDER BY 1`
  const fires = await sql<Array<{ slot: Date; claimed_by: string }>>`SELECT scheduled_at AS slot, claimed_by FROM cron_fires WHERE script_id = ${id} ORDER BY 1`
  const slots = executions.map((row) => Number(row.slot))
  t.ok(executions.length >= 8, `four slots before the kill, three after its recovery, and those around it were recorded (${executions.length})`)
  t.same(executions.filter((row) => row.n !== 1), [], 'no slot has more than one execution')
  // Every second between the first and the last slot has its one execution (none lost to the kill).
  const gaps = slots.filter((slot, i) => i > 0 && slot - slots[i - 1]! !== 1000)
  t.same(gaps, [], 'no slot is missing')
  t.ok(slots[0]! >= Math.floor(startedAt / 1000) * 1000 - 1000 && slots.at(-1)! <= stoppedAt + 1000, 'slots lie in the test window')
  t.equal(fires.length, executions.length, 'one claim per slot')
  const claimers = new Set(fires.map((fire) => fire.claimed_by))
  t.ok(claimers.size >= 2, `more than one process claimed slots (${claimers.size})`)
  const completed = executions.filter((row) => row.statuses[0] === 'completed').length
  t.ok(completed >= executions.length - 5, `nearly all slots completed (${completed} of ${executions.length}); the rest skipped/abandoned around the kill`)
})

t.test('an event claimed by a process killed with SIGKILL mid-delivery is delivered by another after the lease', { skip: server ? false : 'needs a PostgreSQL server: set TEST_DATABASE_URL (CI does)', timeout: 180_000 }, async (t) => {
  const url = (await server!.createUrl())!
  t.teardown(() => server!.cleanup())
  const holder = await startProcess(t, url)
  const children = [holder]
  t.teardown(async () => {
    for (const child of children) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill('SIGTERM')
        await once(child.process, 'exit')
      }
    }
  })
  t.equal((await call(holder, 'POST', '/api/v1/tenants', { slug: 'durable', name: 'Durable' })).status, 201)
  // The first attempt takes long enough to be killed in the middle of it.
  const created = await call(holder, 'POST', '/api/v1/scripts', {
    name: 'slow-first',
    type: 'event',
    events: { types: ['job.*'] },
    // Its lease is timeoutMs + the fixture's 1 s margin: the taker waits that long after the kill.
    limits: { timeoutMs: 3000 },
    source: 'export default { async event(event) { if (event.attempt === 1) await new Promise((resolve) => setTimeout(resolve, 2500)); return { attempt: event.attempt, payload: event.payload } } }',
  }, 'durable')
  t.equal(created.status, 201, 'script created')
  const id = created.body.id as string
  const published = await call(holder, 'POST', '/api/v1/events', { type: 'job.start', payload: { n: 1 } }, 'durable')
  t.equal(published.status, 202, 'acknowledged: stored before the answer')

  const sql = postgres(url, { max: 1, onnotice: () => {} })
  t.teardown(() => sql.end())
  const delivery = async () => (await sql<Array<{ status: string; attempt: number; claimed_by: string | null }>>`
    SELECT status, attempt, claimed_by FROM event_deliveries WHERE script_id = ${id}`)[0]
  for (let i = 0; i < 200 && (await delivery())?.status !== 'running'; i++) await sleep(50)
  t.match(await delivery(), { status: 'running', attempt: 1 }, 'the holder claimed it')
  holder.process.kill('SIGKILL')
  await once(holder.process, 'exit')

  const taker = await startProcess(t, url)
  children.push(taker)
  let done: any
  for (let i = 0; i < 400; i++) {
    done = (await sql`SELECT status, attempt, attempts FROM event_deliveries WHERE script_id = ${id}`)[0]
    if (done?.status === 'completed') break
    await sleep(100)
  }
  t.match(done, { status: 'completed', attempt: 2 }, 'delivered by the other process on attempt 2')
  t.match(done.attempts, [{ attempt: 1, error: { code: 'EVENT_DELIVERY_ABANDONED' } }, { attempt: 2, error: null }])
  const runs = await sql<Array<{ status: string; output: any; error: any }>>`SELECT status, output, error FROM executions WHERE script_id = ${id} ORDER BY created_at`
  t.match(runs, [{ status: 'failed', error: { code: 'EVENT_DELIVERY_ABANDONED' } }, { status: 'completed', output: { attempt: 2, payload: { n: 1 } } }])
})
