import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import t from 'tap'
import type { Isogate } from '../src/app.js'
import { databaseTargets } from './helpers/databases.js'
import { consolePage, consoleSession } from './helpers/console.js'
import { api, ADMIN_TOKEN, deploy, startTestIsogate } from './helpers/isogate.js'
import { until } from './helpers/until.js'
import { nodeArgs, ROOT } from './helpers/paths.js'
import { tempFolder } from './helpers/temp.js'

// Issue 15: tail-sampled execution records, exact rollups, bounded buffers, the failure journal.
// Request counts are the issue's where it names them (1,000 at 0.01, 200 failing) and small
// elsewhere, to keep this file within its CI budget on both databases.

// Several gateways start here (two in processes of their own per database): more than the
// default per-file timeout on a loaded machine.
t.setTimeout(600_000)

const OK = `export default { fetch() { return new Response('ok') } }`
const FAILING = `export default {\n  fetch() {\n    throw new Error('broken on purpose')\n  },\n}`
const HOST = { adminPort: 0, dataPort: 0 }
type Ports = typeof HOST

/** `n` GETs of `url`, `concurrency` at a time; answers the statuses and JSON bodies of non-2xx. */
async function load(url: string, n: number, concurrency = 20): Promise<{ statuses: number[]; errors: any[] }> {
  const statuses: number[] = []
  const errors: any[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++
        // A request never answered fails the test here, not at the file's timeout.
        const response = await fetch(url, { signal: AbortSignal.timeout(60_000) })
        statuses.push(response.status)
        const text = await response.text()
        if (response.status >= 300) errors.push(JSON.parse(text))
      }
    }),
  )
  return { statuses, errors }
}

async function stats(at: Ports, tenant: string, scriptId: string): Promise<any> {
  const response = await api(at as unknown as Isogate, 'GET', `/api/v1/scripts/${scriptId}/stats`, { tenant })
  if (response.status !== 200) throw new Error(`stats: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}

async function stored(isogate: Isogate, scriptId: string, status?: string): Promise<number> {
  const [row] = await isogate.db.system((tx) => tx<{ n: number }[]>`
    SELECT count(*)::int AS n FROM executions WHERE script_id = ${scriptId} ${status === undefined ? tx`` : tx`AND status = ${status}`}`)
  return row?.n ?? 0
}

async function metric(isogate: Isogate, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${isogate.adminPort}/metrics`)).text()
  const match = pattern.exec(text)
  return match === null ? Number.NaN : Number(match[1])
}

for (const target of databaseTargets()) {
  t.test(`execution records on the ${target.name} database`, async (t) => {
    t.teardown(() => target.cleanup())

    t.test('sampling, exact counts, failures in full', async (t) => {
      // One gateway for these: the successes' buffer is bounded for the noisy-tenant case (the others
      // keep far less than 4 MiB waiting), and scripts that must be recorded in full say sampleRate 1.
      const bound = 4 * 1024 * 1024
      const isogate = await startTestIsogate(t, { databaseUrl: await target.createUrl(), httpSampleRate: 0.01, recordFirstRuns: 20, recordBufferBytes: bound, rollupFlushMs: 100, recordFlushMs: 20, breakerFailures: 1_000_000 })

      t.test('1,000 successful requests at sample rate 0.01 after the first 20: few records kept, every run counted', async (t) => {
        const script = await deploy(isogate, 'sampled', '/ok', OK)
        const { statuses } = await load(`http://127.0.0.1:${isogate.dataPort}/sampled/ok`, 1020, 25)
        t.equal(statuses.filter((s) => s === 200).length, 1020, 'every request answered 200')
        const body = await until('stats totals', () => stats(isogate, 'sampled', script.id), (s) => s.totals.runs === 1020)
        t.match(body.totals, { runs: 1020, completed: 1020, failed: 0, http: { '2xx': 1020, '5xx': 0 } }, 'the rollups count every run exactly')
        t.type(body.totals.p50Ms, 'number')
        t.ok(body.totals.p99Ms >= body.totals.p50Ms, 'p99 is at least p50')
        await sleep(200) // the last sampled records' batch
        const kept = await stored(isogate, script.id)
        t.ok(kept > 20, `the first 20 runs and some sampled ones are recorded (${kept})`)
        t.ok(kept < 20 + 100, `well below 1,000 are recorded (${kept})`)
      })

      t.test('200 failing requests: 200 failed executions stored, each with its error and line', async (t) => {
        const script = await deploy(isogate, 'failing', '/boom', FAILING)
        const { statuses, errors } = await load(`http://127.0.0.1:${isogate.dataPort}/failing/boom`, 200, 20)
        t.equal(statuses.filter((s) => s === 500).length, 200)
        const ids = new Set(errors.map((e) => e.error.executionId))
        t.equal(ids.size, 200, 'each answer names its own execution')
        await until('failed records', () => stored(isogate, script.id, 'failed'), (n) => n === 200)
        const rows = await isogate.db.system((tx) => tx<{ id: string; error: any }[]>`SELECT id, error FROM executions WHERE script_id = ${script.id}`)
        t.equal(rows.length, 200)
        t.ok(rows.every((row) => ids.has(row.id) && row.error.code === 'SCRIPT_ERROR' && row.error.message === 'broken on purpose' && row.error.line === 3), 'every record has its error, message and line')
        const body = await until('stats', () => stats(isogate, 'failing', script.id), (s) => s.totals.runs === 200)
        t.match(body.totals, { runs: 200, completed: 0, failed: 200, byCode: { SCRIPT_ERROR: 200 }, http: { '5xx': 200 } })
      })

      t.test('observability.sampleRate 1 on one script records every run', async (t) => {
        const script = await deploy(isogate, 'audited', '/ok', OK, { observability: { sampleRate: 1 } })
        t.same(script.observability, { sampleRate: 1 })
        await load(`http://127.0.0.1:${isogate.dataPort}/audited/ok`, 150, 15)
        t.equal(await until('records', () => stored(isogate, script.id), (n) => n === 150), 150)
        const patched = await api(isogate, 'PATCH', `/api/v1/scripts/${script.id}`, { tenant: 'audited', body: { observability: { sampleRate: 2 } } })
        t.equal(patched.status, 400, 'a rate over 1 is refused')
        t.equal(patched.body.error.code, 'VALIDATION_FAILED')
      })

      t.test('the console counts every run from the rollups, not the sampled records: runs and errors by code, per tenant and per script; script counts are exact', async (t) => {
        const ok = await deploy(isogate, 'health', '/ok', OK)
        const failing = await deploy(isogate, 'health', '/boom', FAILING)
        const invalid = await deploy(isogate, 'health', '/invalid', `export default { fetch() { return 42 } }`)
        const [oks, fails, invalids] = await Promise.all([
          load(`http://127.0.0.1:${isogate.dataPort}/health/ok`, 400, 20),
          load(`http://127.0.0.1:${isogate.dataPort}/health/boom`, 15, 5),
          load(`http://127.0.0.1:${isogate.dataPort}/health/invalid`, 5, 5),
        ])
        t.same([oks.statuses.filter((s) => s === 200).length, fails.statuses.filter((s) => s === 500).length, invalids.statuses.filter((s) => s === 500).length], [400, 15, 5])
        // The rollups reach the database every 100 ms here; the failures' records are written first.
        await until('rollups', async () => [(await stats(isogate, 'health', ok.id)).totals.runs, (await stats(isogate, 'health', invalid.id)).totals.runs], ([a, b]) => a === 400 && b === 5)
        await until('failure records', () => stored(isogate, failing.id), (n) => n === 15)
        const kept = await stored(isogate, ok.id)
        t.ok(kept < 200, `the records keep a sample of the successes (${kept} of 400)`)
        // 201 drafts straight into the table: more than a page of the script list.
        const [tenant] = await isogate.db.system((tx) => tx<{ id: string }[]>`SELECT id FROM tenants WHERE slug = 'health'`)
        await isogate.db.system((tx) => tx`INSERT INTO scripts (tenant_id, name, type, status, version) SELECT ${tenant!.id}, 'draft-' || g, 'oneoff', 'draft', 1 FROM generate_series(1, 201) g`)

        const viewer = await api(isogate, 'POST', '/api/v1/tenants/health/keys', { body: { role: 'viewer', name: 'health viewer' } })
        const cookie = await consoleSession(isogate, viewer.body.token)
        const overview = await consolePage(isogate, cookie, '/')
        t.match(overview, 'data-runs="420" data-failures="20"', 'the overview counts all 420 runs and 20 failures')
        t.match(overview, 'data-code="SCRIPT_ERROR" data-count="15"', 'errors by code: the script errors')
        t.match(overview, 'data-code="SCRIPT_INVALID_RESPONSE" data-count="5"', 'and the invalid responses')
        t.match(overview, 'data-status="draft" data-count="201"', 'script counts are exact past 200')
        t.match(overview, 'data-status="active" data-count="3"')
        const page = await consolePage(isogate, cookie, `/scripts/${ok.id}`)
        t.match(page, 'data-runs="400" data-failures="0"', "the script's page counts all 400 runs")
        const invalidPage = await consolePage(isogate, cookie, `/scripts/${invalid.id}`)
        t.match(invalidPage, 'data-runs="5" data-failures="5"')
        t.match(invalidPage, 'data-code="SCRIPT_INVALID_RESPONSE" data-count="5"')
      })

      t.test('a tenant logging near its output limit on every run costs another tenant no record, and memory stays bounded', async (t) => {
        const noisy = await deploy(isogate, 'noisy', '/log', `export default { fetch(r, env, ctx) { ctx.logger.info('n'.repeat(900 * 1024)); return new Response('ok') } }`, { observability: { sampleRate: 1 } })
        const quiet = await deploy(isogate, 'bystander', '/ok', OK, { observability: { sampleRate: 1 } })
        global.gc?.()
        const before = process.memoryUsage().rss
        let peak = before
        let peakBuffered = 0
        let sampling = true
        const sampler = (async () => {
          while (sampling) {
            peak = Math.max(peak, process.memoryUsage().rss)
            peakBuffered = Math.max(peakBuffered, await metric(isogate, /isogate_execution_records_buffered_bytes (\d+)/))
            await sleep(25)
          }
        })()
        const [loud] = await Promise.all([load(`http://127.0.0.1:${isogate.dataPort}/noisy/log`, 80, 8), load(`http://127.0.0.1:${isogate.dataPort}/bystander/ok`, 100, 4)])
        sampling = false
        await sampler
        t.equal(loud.statuses.filter((s) => s === 200).length, 80)
        t.equal(await until('bystander records', () => stored(isogate, quiet.id), (n) => n === 100), 100, "every one of the bystander's runs is recorded")
        const noisyDropped = await metric(isogate, /isogate_execution_records_dropped_total\{reason="buffer_full"\} (\d+)/)
        t.equal(await until('noisy records', () => stored(isogate, noisy.id), (n) => n === 80 - noisyDropped), 80 - noisyDropped, `the noisy tenant's records are kept or counted as dropped (${noisyDropped} dropped)`)
        t.ok(peakBuffered <= bound, `the buffer never held more than its bound (${peakBuffered} bytes)`)
        const growth = peak - before
        // The test process's RSS holds the gateway's heaps and, on the embedded database, PGlite's
        // WASM memory, which grow with how the 900 KB results fall between collections: 188-268 MiB
        // in runs of this test on a 2-core machine, session 9's tree and this one alike (268 failed
        // a CI run at the old 256 MiB allowance). Records held without bound would add their
        // whole volume per round on top.
        t.ok(growth < bound + 320 * 1024 * 1024, `the gateway's RSS grew by ${Math.round(growth / 1048576)} MiB (bounded, not by the tenant's log volume of ${Math.round((80 * 900) / 1024)} MiB)`)
      })

      t.test('the stats endpoint checks its query and the script', async (t) => {
        const script = await deploy(isogate, 'sampled', '/other', OK)
        const bad = await api(isogate, 'GET', `/api/v1/scripts/${script.id}/stats?step=7s`, { tenant: 'sampled' })
        t.equal(bad.status, 400)
        t.equal(bad.body.error.code, 'VALIDATION_FAILED')
        const tooMany = await api(isogate, 'GET', `/api/v1/scripts/${script.id}/stats?from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z&step=1m`, { tenant: 'sampled' })
        t.equal(tooMany.status, 400)
        const other = await api(isogate, 'GET', `/api/v1/scripts/${script.id}/stats`, { tenant: 'failing' })
        t.equal(other.status, 404, "another tenant's script is not found")
        const empty = await api(isogate, 'GET', `/api/v1/scripts/${script.id}/stats?from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z&step=5m`, { tenant: 'sampled' })
        t.equal(empty.status, 200)
        t.equal(empty.body.buckets.length, 12, 'every bucket, empty ones too')
        t.match(empty.body.totals, { runs: 0, p50Ms: null })
        const spec = await api(isogate, 'GET', '/api/v1/openapi.json')
        t.ok(spec.body.paths['/api/v1/scripts/{id}/stats']?.get, 'the endpoint is in the OpenAPI document')
      })
    })

    t.test('a stalled database: the data plane keeps answering, drops are counted by reason, failures kept up to their buffer', async (t) => {
      const url = await target.createUrl()
      const isogate = await startTestIsogate(t, { databaseUrl: url, recordFirstRuns: 0, recordBufferBytes: 64 * 1024, recordFailureBufferBytes: 64 * 1024, rollupFlushMs: 100, recordFlushMs: 20, breakerFailures: 1_000_000 })
      const log = `ctx.logger.info('x'.repeat(2000))`
      const ok = await deploy(isogate, 'stalled', '/ok', `export default { fetch(r, env, ctx) { ${log}; return new Response('ok') } }`, { observability: { sampleRate: 1 } })
      const failing = await deploy(isogate, 'stalled', '/boom', `export default { fetch(r, env, ctx) { ${log}; throw new Error('no') } }`)

      // Hold a lock on executions: the server from a connection of the test's own, the embedded
      // database through its one connection (every write waits for the transaction).
      let release = (): void => {}
      const released = new Promise<void>((resolve) => (release = resolve))
      let locked = (): void => {}
      const holding = new Promise<void>((resolve) => (locked = resolve))
      const other = url === undefined ? null : postgres(url, { max: 1, onnotice: () => {} })
      const sql = other ?? isogate.db.sql
      const lock = sql.begin(async (tx) => {
        await tx`LOCK TABLE executions IN ACCESS EXCLUSIVE MODE`
        locked()
        await released
      })
      await holding

      const started = Date.now()
      const [oks, fails] = await Promise.all([
        load(`http://127.0.0.1:${isogate.dataPort}/stalled/ok`, 100, 10),
        load(`http://127.0.0.1:${isogate.dataPort}/stalled/boom`, 100, 10),
      ])
      t.equal(oks.statuses.filter((s) => s === 200).length, 100, 'successes answered while the database stalls')
      t.equal(fails.statuses.filter((s) => s === 500).length, 100, 'failures answered while the database stalls')
      t.ok(Date.now() - started < 10_000, 'and promptly')
      const droppedOk = await metric(isogate, /isogate_execution_records_dropped_total\{reason="buffer_full"\} (\d+)/)
      const droppedFailures = await metric(isogate, /isogate_execution_records_dropped_total\{reason="failure_buffer_full"\} (\d+)/)
      t.ok(droppedOk > 0, `sampled successes dropped, counted as buffer_full (${droppedOk})`)
      t.ok(droppedFailures > 0 && droppedFailures < 100, `failures past their buffer dropped and counted (${droppedFailures})`)
      t.ok((await metric(isogate, /isogate_execution_records_buffered_bytes (\d+)/)) <= 2 * 64 * 1024, 'the buffers hold no more than their bounds')

      release()
      await lock
      await other?.end()
      const kept = await until('failures written', () => stored(isogate, failing.id), (n) => n === 100 - droppedFailures)
      t.equal(kept, 100 - droppedFailures, 'every failure the buffer kept is written once the database is back')
      // Failures are written first (a buffer of their own); the kept successes follow in a later batch.
      const keptOk = await until('successes written', () => stored(isogate, ok.id), (n) => n === 100 - droppedOk)
      t.equal(keptOk, 100 - droppedOk, 'and every success it kept')
      const counts = await until('stats', () => stats(isogate, 'stalled', failing.id), (s) => s.totals.runs === 100)
      t.equal(counts.totals.failed, 100, 'the rollups count the dropped ones too')
    })

    // The journal is a file in the data folder and its records go in with the same batch insert on
    // either database: the embedded one (whose data folder lock must also let the restart in) is enough.
    if (target.name === 'embedded') t.test('kill -9 of the gateway right after failing runs were answered: their records are there after the restart', async (t) => {
      const url = await target.createUrl()
      // Records wait a minute for their batch: only the journal can bring these back.
      const overrides = { databaseUrl: url, dataDir: tempFolder(t, 'isogate-journal-'), recordFlushMs: 60_000, breakerFailures: 1_000_000, adminToken: ADMIN_TOKEN }
      const first = await startProcess(overrides)
      const script = await deploy(first.ports as unknown as Isogate, 'crashy', '/boom', FAILING)
      const { errors } = await load(`http://127.0.0.1:${first.ports.dataPort}/crashy/boom`, 30, 10)
      first.child.kill('SIGKILL')
      await once(first.child, 'exit')
      const ids = errors.map((e) => e.error.executionId as string)
      t.equal(ids.length, 30, 'thirty failing runs were answered before the kill')

      const second = await startProcess(overrides)
      t.teardown(() => second.stop())
      const found = await Promise.all(ids.map(async (id) => (await api(second.ports as unknown as Isogate, 'GET', `/api/v1/executions/${id}`, { tenant: 'crashy' })).body))
      t.equal(found.filter((record) => record?.status === 'failed' && record.error?.code === 'SCRIPT_ERROR' && record.error.line === 3).length, 30, 'every answered failure is recorded after the restart')
      t.equal(found[0].scriptId, script.id)
    })

    if (target.name === 'server') {
      t.test('two processes on one server database: the rollups add up exactly', async (t) => {
        const url = await target.createUrl()
        const a = await startProcess({ databaseUrl: url, dataDir: tempFolder(t, 'isogate-node-'), rollupFlushMs: 100 })
        t.teardown(() => a.stop())
        const b = await startProcess({ databaseUrl: url, dataDir: tempFolder(t, 'isogate-node-'), rollupFlushMs: 100 })
        t.teardown(() => b.stop())
        const script = await deploy(a.ports as unknown as Isogate, 'shared', '/ok', OK)
        // B learns the route through the change relay; its first 200 is a run too.
        let warmups = 0
        await until('route on B', async () => (await fetch(`http://127.0.0.1:${b.ports.dataPort}/shared/ok`)).status, (status) => status === 200 || (warmups++, false))
        const [onA, onB] = await Promise.all([load(`http://127.0.0.1:${a.ports.dataPort}/shared/ok`, 300, 10), load(`http://127.0.0.1:${b.ports.dataPort}/shared/ok`, 200, 10)])
        const total = onA.statuses.length + onB.statuses.length + 1
        const body = await until('stats', () => stats(b.ports, 'shared', script.id), (s) => s.totals.runs === total)
        t.equal(body.totals.runs, 501, 'the runs of both processes add up exactly')
        t.equal(body.totals.completed, 501)
        const sql = postgres(url!, { max: 1, onnotice: () => {} })
        const [row] = await sql<{ nodes: number }[]>`SELECT count(DISTINCT node_id)::int AS nodes FROM execution_rollups WHERE script_id = ${script.id}`
        await sql.end()
        t.equal(row!.nodes, 2, 'one row per process for the minute')
      })
    }
  })
}

interface Started {
  child: ChildProcess
  ports: Ports
  stop(): Promise<void>
}

/** A gateway in a process of its own (test/fixtures/recording-process.ts), loaded as this test is. */
async function startProcess(overrides: Record<string, unknown>): Promise<Started> {
  const child = spawn(process.execPath, [...nodeArgs('test/fixtures/recording-process.ts'), JSON.stringify(overrides)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const ports = await new Promise<Ports>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`process did not start: ${err}`))
    }, 180_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) {
        clearTimeout(timer)
        resolve(JSON.parse(line) as Ports)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`process exited ${code}: ${err}`))
    })
  })
  return {
    child,
    ports,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}
