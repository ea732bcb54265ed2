import { randomUUID } from 'node:crypto'
import t from 'tap'
import { ExecutionRepository } from '../src/db/execution.repository.js'
import type { ExecutionRecord } from '../src/domain/execution.js'
import { ExecutionRetention } from '../src/services/index.js'
import { databaseTargets } from './helpers/databases.js'
import { api, startTestIsogate } from './helpers/isogate.js'

const WORKER = `export default {
  async run(input, env, ctx) {
    if (input && input.fail) throw new Error('asked to fail')
    const until = Date.now() + (input && input.busyMs ? input.busyMs : 0)
    while (Date.now() < until) {}
    console.log('ran with', JSON.stringify(input))
    return { doubled: (input && input.n ? input.n : 0) * 2, greeting: env.GREETING }
  },
}`

async function until<T>(what: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await what()
    if (ok(value) || Date.now() > end) return value
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

for (const target of databaseTargets()) {
  t.test(`runs, executions, audit and retention on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl })
    t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'runs', name: 'Runs' } })).status, 201)
    const as = (method: string, path: string, body?: unknown) => api(isogate, method, path, { tenant: 'runs', ...(body === undefined ? {} : { body }) })
    const created = await as('POST', '/api/v1/scripts', { name: 'worker', type: 'oneoff', source: WORKER, env: { GREETING: 'hi' }, limits: { timeoutMs: 20_000 } })
    t.equal(created.status, 201)
    const script = created.body

    t.test('a synchronous manual run answers the finished execution, readable afterwards', async (t) => {
      const run = await as('POST', `/api/v1/scripts/${script.id}/run`, { input: { n: 21 } })
      t.equal(run.status, 200)
      t.match(run.body, { id: String, status: 'completed', trigger: 'manual', scriptId: script.id, scriptVersion: 1, input: { n: 21 }, output: { doubled: 42, greeting: 'hi' } })
      t.match(run.body.logs, [{ level: 'info', message: /ran with {"n":21}/ }])
      const read = await as('GET', `/api/v1/executions/${run.body.id}`)
      t.equal(read.status, 200)
      t.match(read.body, { id: run.body.id, status: 'completed', output: { doubled: 42 }, input: { n: 21 }, durationMs: Number, cpuMs: Number })
      t.ok(read.body.startedAt && read.body.finishedAt)

      const failed = await as('POST', `/api/v1/scripts/${script.id}/run`, { input: { fail: true } })
      t.equal(failed.status, 200, 'the run happened: its failure is in the record, not the HTTP status')
      t.match(failed.body, { status: 'failed', error: { code: 'SCRIPT_ERROR', message: /asked to fail/ } })
      const noBody = await as('POST', `/api/v1/scripts/${script.id}/run`)
      t.match(noBody.body, { status: 'completed', input: null, output: { doubled: 0 } })
      const bad = await as('POST', `/api/v1/scripts/${script.id}/run`, { input: 1, extra: true })
      t.equal(bad.body.error.code, 'VALIDATION_FAILED')
      t.equal((await as('POST', `/api/v1/scripts/${script.id}/run?async=maybe`, {})).body.error.details.fields[0].field, 'async')
    })

    t.test('an async run answers 202 with the id; the record goes pending/running then completed', async (t) => {
      const queued = await as('POST', `/api/v1/scripts/${script.id}/run?async=true`, { input: { n: 2, busyMs: 400 } })
      t.equal(queued.status, 202)
      t.match(queued.body, { id: String, status: 'pending' })
      t.equal(queued.headers.get('location'), `/api/v1/executions/${queued.body.id}`)
      const early = await as('GET', `/api/v1/executions/${queued.body.id}`)
      t.equal(early.status, 200, 'the record exists as soon as the run is accepted')
      t.ok(['pending', 'running', 'completed'].includes(early.body.status), `status ${early.body.status}`)
      const done = await until(() => as('GET', `/api/v1/executions/${queued.body.id}`), (r) => r.body.status === 'completed')
      t.match(done.body, { status: 'completed', output: { doubled: 4 }, trigger: 'manual' })
      t.ok(done.body.durationMs >= 300, `it ran for ${done.body.durationMs} ms`)
    })

    t.test('a disabled script cannot run; a draft can be tried', async (t) => {
      const draft = await as('POST', '/api/v1/scripts', { name: 'draft-run', type: 'oneoff', status: 'draft', source: WORKER })
      t.equal((await as('POST', `/api/v1/scripts/${draft.body.id}/run`, { input: { n: 1 } })).body.output.doubled, 2)
      await as('PATCH', `/api/v1/scripts/${draft.body.id}`, { status: 'active' })
      await as('PATCH', `/api/v1/scripts/${draft.body.id}`, { status: 'disabled' })
      const refused = await as('POST', `/api/v1/scripts/${draft.body.id}/run`, {})
      t.equal(refused.status, 409)
      t.equal(refused.body.error.code, 'SCRIPT_NOT_RUNNABLE')
      t.equal((await as('POST', `/api/v1/scripts/${randomUUID()}/run`, {})).status, 404)
    })

    t.test('executions are listed newest first with filters and cursor pages', async (t) => {
      const all = await as('GET', `/api/v1/executions?scriptId=${script.id}`)
      t.equal(all.status, 200)
      t.ok(all.body.items.length >= 4)
      t.notOk('output' in all.body.items[0] || 'logs' in all.body.items[0], 'the list leaves the heavy fields out')
      const times = all.body.items.map((e: any) => Date.parse(e.createdAt))
      t.same(times, [...times].sort((a, b) => b - a), 'newest first')
      const failed = await as('GET', `/api/v1/executions?scriptId=${script.id}&status=failed&trigger=manual`)
      t.same(failed.body.items.map((e: any) => e.status), ['failed'])
      t.equal((await as('GET', '/api/v1/executions?trigger=cron')).body.items.length, 0)
      const future = new Date(Date.now() + 60_000).toISOString()
      t.equal((await as('GET', `/api/v1/executions?from=${future}`)).body.items.length, 0)
      t.equal((await as('GET', `/api/v1/executions?to=${future}&scriptId=${script.id}`)).body.items.length, all.body.items.length)
      const pages: string[] = []
      let cursor: string | null = null
      do {
        const page: any = await as('GET', `/api/v1/executions?scriptId=${script.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        pages.push(...page.body.items.map((e: any) => e.id))
        cursor = page.body.nextCursor
      } while (cursor !== null)
      t.same(pages, all.body.items.map((e: any) => e.id), 'pages of 2 walk the same list')
      const invalid: Array<[string, string]> = [['status=done', 'status'], ['trigger=webhook', 'trigger'], ['from=yesterday', 'from'], ['scriptId=abc', 'scriptId'], [`from=${future}&to=${new Date(0).toISOString()}`, 'to']]
      for (const [query, field] of invalid) {
        const response = await as('GET', `/api/v1/executions?${query}`)
        t.equal(response.status, 400, query)
        t.equal(response.body.error.details.fields[0].field, field, `${query} names ${field}`)
      }
      t.equal((await as('GET', `/api/v1/executions/${randomUUID()}`)).body.error.code, 'EXECUTION_NOT_FOUND')
    })

    t.test('every change is in the audit trail with actor, before and after', async (t) => {
      const key = await api(isogate, 'POST', '/api/v1/tenants/runs/keys', { body: { role: 'developer', name: 'auditor' } })
      const dev = key.body.token
      const made = await api(isogate, 'POST', '/api/v1/scripts', { token: dev, body: { name: 'audited', type: 'oneoff', source: WORKER } })
      await api(isogate, 'PATCH', `/api/v1/scripts/${made.body.id}`, { token: dev, body: { source: `${WORKER}\n// v2`, env: { SECRET_TOKEN: 'never-in-the-trail' } } })
      await api(isogate, 'PATCH', `/api/v1/scripts/${made.body.id}`, { token: dev, body: { status: 'paused' } })
      await api(isogate, 'POST', `/api/v1/scripts/${made.body.id}/rollback`, { token: dev, body: { version: 1 } })
      await as('DELETE', `/api/v1/scripts/${made.body.id}`)
      await as('DELETE', `/api/v1/tenants/runs/keys/${key.body.id}`)
      const trail = await as('GET', `/api/v1/audit?resourceId=${made.body.id}`)
      t.equal(trail.status, 200)
      t.same(trail.body.items.map((e: any) => e.action), ['script.delete', 'script.rollback', 'script.status', 'script.update', 'script.create'])
      const [deleted, rollback, status, update, create] = trail.body.items
      t.match(create, { actorKeyId: key.body.id, actorRole: 'developer', resourceType: 'script', before: null, after: { name: 'audited', version: 1 } })
      t.match(update, { before: { version: 1, envNames: [] }, after: { version: 2, envNames: ['SECRET_TOKEN'] } })
      t.match(status, { before: { status: 'active' }, after: { status: 'paused' } })
      t.match(rollback, { before: { version: 2 }, after: { version: 3, rolledBackTo: 1 } })
      t.match(deleted, { actorRole: 'superadmin', before: { name: 'audited', version: 3 }, after: null })
      t.notOk(JSON.stringify(trail.body).includes('never-in-the-trail'), 'env values stay out of the trail')
      const keys = await as('GET', `/api/v1/audit?resourceId=${key.body.id}`)
      t.same(keys.body.items.map((e: any) => e.action), ['key.revoke', 'key.create'])
      const page = await as('GET', '/api/v1/audit?limit=3')
      t.equal(page.body.items.length, 3)
      const next = await as('GET', `/api/v1/audit?limit=3&cursor=${page.body.nextCursor}`)
      t.notOk(next.body.items.some((e: any) => page.body.items.some((p: any) => p.id === e.id)), 'the next page starts after the first')
      t.equal((await as('GET', '/api/v1/audit?action=tenant.create')).body.items.length, 1)
    })

    t.test('the database refuses UPDATE, DELETE and TRUNCATE on the audit trail, whoever asks', async (t) => {
      const [row] = await isogate.db.system((tx) => tx<{ id: string; tenant_id: string }[]>`SELECT id, tenant_id FROM audit_log LIMIT 1`)
      t.ok(row)
      const attempts: Array<[string, (sql: any) => Promise<unknown>]> = [
        ['UPDATE', (sql) => sql`UPDATE audit_log SET action = 'forged' WHERE id = ${row!.id}`],
        ['DELETE', (sql) => sql`DELETE FROM audit_log WHERE id = ${row!.id}`],
      ]
      for (const [verb, attempt] of attempts) {
        await t.rejects(isogate.db.system(attempt), { code: '42501' }, `${verb} as the system role`)
        await t.rejects(isogate.db.tenant(row!.tenant_id, attempt), { code: '42501' }, `${verb} as the app role`)
        // The login user owns the table (and may be a superuser): the trigger still refuses.
        await t.rejects(isogate.db.sql.begin(attempt), { code: '42501', message: /append-only/ }, `${verb} as the owner`)
      }
      await t.rejects(isogate.db.sql.begin((sql) => sql`TRUNCATE audit_log`), { message: /append-only/ }, 'TRUNCATE as the owner')
      const [still] = await isogate.db.system((tx) => tx<{ action: string }[]>`SELECT action FROM audit_log WHERE id = ${row!.id}`)
      t.not(still?.action, 'forged')
      t.ok(still, 'the entry is still there')
    })

    t.test('paging executions created in the same millisecond skips none and repeats none (microsecond cursors)', async (t) => {
      const [{ id: tenantId } = { id: '' }] = await isogate.db.system((tx) => tx<{ id: string }[]>`SELECT id FROM tenants WHERE slug = 'runs'`)
      const ids = Array.from({ length: 5 }, () => randomUUID())
      // Five records 100 µs apart inside one millisecond, far in the future so they are the newest.
      await isogate.db.system((tx) => tx`
        INSERT INTO executions (id, tenant_id, script_id, script_version, trigger, status, created_at)
        SELECT id, ${tenantId}, ${script.id}, 1, 'manual', 'completed', '2999-01-01T00:00:00.000Z'::timestamptz + (n * interval '100 microseconds')
        FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, n)`)
      const seen: string[] = []
      let cursor: string | null = null
      for (let page = 0; page < 3; page++) {
        const query: string = `/api/v1/executions?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`
        const { body } = await as('GET', query)
        seen.push(...body.items.map((item: { id: string }) => item.id))
        cursor = body.nextCursor
      }
      t.same(seen.slice(0, 5), [...ids].reverse(), 'newest first, each once')
    })

    t.test('retention purges executions past the configured days in batches and keeps the rest', async (t) => {
      t.equal(isogate.config.executionRetentionDays, 90, 'the default is 90 days')
      const [{ id: tenantId } = { id: '' }] = await isogate.db.system((tx) => tx<{ id: string }[]>`SELECT id FROM tenants WHERE slug = 'runs'`)
      const day = 24 * 60 * 60 * 1000
      const record = (ageDays: number): ExecutionRecord => {
        const at = new Date(Date.now() - ageDays * day)
        return { id: randomUUID(), tenantId, scriptId: script.id, scriptVersion: 1, trigger: 'manual', status: 'completed', input: null, output: null, logs: [], error: null, httpStatus: null, durationMs: 1, cpuMs: 1, memoryBytes: 1, apiCalls: 0, outputBytes: 0, startKind: 'hot', createdAt: at, startedAt: at, finishedAt: at }
      }
      const old = [record(91), record(120), record(200), record(365), record(1000)]
      const recent = [record(89), record(1)]
      const repository = new ExecutionRepository()
      await isogate.db.system((tx) => repository.insertMany(tx, [...old, ...recent]))
      const retention = new ExecutionRetention({ db: isogate.db, executions: repository, logger: isogate.logger, retentionDays: 90, batchSize: 2 })
      t.equal(await retention.purge(), old.length, 'every old record went, two per transaction')
      const left = await isogate.db.system((tx) => tx<{ id: string }[]>`SELECT id FROM executions WHERE id IN ${tx([...old, ...recent].map((r) => r.id))}`)
      t.same(left.map((r) => r.id).sort(), recent.map((r) => r.id).sort())
      t.equal(await retention.purge(), 0, 'nothing more to purge')
      t.throws(() => new ExecutionRetention({ db: isogate.db, executions: repository, logger: isogate.logger, retentionDays: 0 }), RangeError)
    })
  })
}
