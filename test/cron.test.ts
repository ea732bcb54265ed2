import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import t from 'tap'
import { TEST_EMBEDDED_TEMPLATE } from '../config/test.js'
import { IsolatePool } from '../runner/index.js'
import { CronRepository } from '../src/db/cron.repository.js'
import { Database } from '../src/db/index.js'
import { ExecutionRepository } from '../src/db/execution.repository.js'
import { sourceHash } from '../src/services/index.js'
import { CronScheduler, type MissedPolicy } from '../src/triggers/index.js'
import { databaseTargets } from './helpers/databases.js'
import { api, startTestIsogate } from './helpers/isogate.js'
import { LIMITS } from './helpers/programs.js'
import { tempFolder } from './helpers/temp.js'

const TICK = `export default { scheduled(controller) { return { at: controller.scheduledTime } } }`

/** Reads until `done` holds, every 100 ms, for at most `timeoutMs`; answers the last value read. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value) || Date.now() > deadline) return value
    await sleep(100)
  }
}

/** A clock the test moves by hand. */
class FakeClock {
  constructor(public time: number) {}
  now(): number {
    return this.time
  }
  set(iso: string): void {
    this.time = Date.parse(iso)
  }
}

for (const target of databaseTargets()) {
  t.test(`cron on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())

    t.test('scheduler with a fake clock: DST, missed slots, overlap and abandoned fires', async (t) => {
      const db = await Database.open({ url: databaseUrl, dataDir: tempFolder(t, 'isogate-cron-'), embeddedTemplate: TEST_EMBEDDED_TEMPLATE })
      t.teardown(() => db.close())
      const pool = new IsolatePool({ threads: 1 })
      t.teardown(() => pool.close())
      const clock = new FakeClock(Date.parse('2025-03-09T06:00:00Z'))
      const scheduler = (missedPolicy: MissedPolicy) =>
        new CronScheduler({ db, executor: pool, fires: new CronRepository(), executions: new ExecutionRepository(), defaultLimits: LIMITS, logger: pino({ level: 'silent' }), clock, autoStart: false, missedPolicy, missedToleranceMs: 5_000 })
      const skip = scheduler('skip')
      const runOnce = scheduler('run-once')
      const [tenant] = await db.system((tx) => tx<Array<{ id: string }>>`INSERT INTO tenants (slug, name) VALUES ('clock', 'Clock') RETURNING id`)
      const tenantId = tenant!.id
      const script = async (name: string, expression: string, timezone: string, status = 'draft') => {
        const [row] = await db.tenant(tenantId, (tx) => tx<Array<{ id: string }>>`
          INSERT INTO scripts (tenant_id, name, type, status, version, cron_expression, cron_timezone)
          VALUES (${tenantId}, ${name}, 'scheduled', ${status}, 1, ${expression}, ${timezone}) RETURNING id`)
        await db.tenant(tenantId, (tx) => tx`INSERT INTO script_versions (script_id, version, tenant_id, source, source_hash) VALUES (${row!.id}, 1, ${tenantId}, ${TICK}, ${sourceHash(TICK)})`)
        return row!.id
      }
      const activate = (id: string) => db.system((tx) => tx`UPDATE scripts SET status = 'active' WHERE id = ${id}`)
      const activateOnly = async (id: string) => {
        await db.system((tx) => tx`UPDATE scripts SET status = 'paused' WHERE type = 'scheduled' AND status = 'active'`)
        await activate(id)
      }
      const plan = async (id: string) => (await db.system((tx) => tx<Array<{ next_run_at: Date | null; last_run_status: string | null }>>`SELECT next_run_at, last_run_status FROM scripts WHERE id = ${id}`))[0]!
      const fires = (id: string) => db.system((tx) => tx<Array<{ scheduled_at: Date; status: string; reason: string | null; missed: number }>>`SELECT scheduled_at, status, reason, missed FROM cron_fires WHERE script_id = ${id} ORDER BY scheduled_at`)
      const executions = (id: string) => db.system((tx) => tx<Array<{ status: string; error: any; input: any }>>`SELECT status, error, input FROM executions WHERE script_id = ${id} ORDER BY created_at, id`)

      t.test('a 02:30 New York schedule on the spring-forward day fires once, at 03:00 EDT', async (t) => {
        const id = await script('spring', '30 2 * * *', 'America/New_York')
        await activateOnly(id)
        clock.set('2025-03-09T06:00:00Z')
        t.equal(await skip.runDue(), 0, 'nothing due yet')
        t.same((await plan(id)).next_run_at, new Date('2025-03-09T07:00:00Z'))
        clock.set('2025-03-09T07:00:00.100Z')
        t.equal(await skip.runDue(), 1)
        await skip.idle()
        t.match(await fires(id), [{ scheduled_at: new Date('2025-03-09T07:00:00Z'), status: 'completed' }])
        t.match(await executions(id), [{ status: 'completed', input: { scheduledTime: Date.parse('2025-03-09T07:00:00Z'), timezone: 'America/New_York' } }])
        t.match(await plan(id), { next_run_at: new Date('2025-03-10T06:30:00Z'), last_run_status: 'completed' })
        clock.set('2025-03-09T08:00:00Z')
        t.equal(await skip.runDue(), 0, 'not again after the gap')
      })

      t.test('slots missed while no process ran are skipped and recorded under the skip policy', async (t) => {
        const id = await script('hourly-skip', '0 * * * *', 'UTC')
        clock.set('2025-01-01T00:00:30Z')
        await activateOnly(id)
        await skip.runDue()
        t.same((await plan(id)).next_run_at, new Date('2025-01-01T01:00:00Z'))
        clock.set('2025-01-01T05:30:00Z')
        t.equal(await skip.runDue(), 0, 'nothing runs')
        t.match(await fires(id), [{ scheduled_at: new Date('2025-01-01T01:00:00Z'), status: 'skipped', reason: 'missed', missed: 5 }])
        t.match(await executions(id), [{ status: 'skipped', error: { code: 'CRON_SLOTS_MISSED', message: /5 slot/ } }])
        t.same((await plan(id)).next_run_at, new Date('2025-01-01T06:00:00Z'))
      })

      t.test('the run-once policy runs the latest missed slot once and records the others', async (t) => {
        const id = await script('hourly-once', '0 * * * *', 'UTC')
        clock.set('2025-01-01T00:00:30Z')
        await activateOnly(id)
        await runOnce.runDue()
        clock.set('2025-01-01T05:30:00Z')
        t.equal(await runOnce.runDue(), 1)
        await runOnce.idle()
        t.match(await fires(id), [
          { scheduled_at: new Date('2025-01-01T01:00:00Z'), status: 'skipped', reason: 'missed', missed: 4 },
          { scheduled_at: new Date('2025-01-01T05:00:00Z'), status: 'completed', missed: 4 },
        ])
        t.same((await plan(id)).next_run_at, new Date('2025-01-01T06:00:00Z'))
      })

      t.test('a fire whose previous fire still runs is skipped; one whose process died is failed after its lease', async (t) => {
        const id = await script('overlap', '* * * * *', 'UTC')
        clock.set('2025-02-01T00:00:30Z')
        await activateOnly(id)
        await skip.runDue()
        const lease = new Date('2025-02-01T00:01:30Z')
        await db.system((tx) => tx`
          INSERT INTO cron_fires (script_id, scheduled_at, tenant_id, execution_id, status, claimed_by, lease_until)
          VALUES (${id}, '2025-02-01T00:00:00Z', ${tenantId}, gen_random_uuid(), 'running', 'a-dead-process', ${lease})`)
        clock.set('2025-02-01T00:01:00Z')
        t.equal(await skip.runDue(), 0)
        t.match((await fires(id)).at(-1), { scheduled_at: new Date('2025-02-01T00:01:00Z'), status: 'skipped', reason: 'overlap' })
        t.match((await executions(id)).at(-1), { status: 'skipped', error: { code: 'CRON_OVERLAP' } })
        clock.set('2025-02-01T00:02:00.200Z')
        await skip.runDue()
        await skip.idle()
        const all = await fires(id)
        t.match(all[0], { scheduled_at: new Date('2025-02-01T00:00:00Z'), status: 'failed', reason: 'abandoned' })
        t.ok((await executions(id)).some((row) => row.error?.code === 'CRON_FIRE_ABANDONED'), 'the lost fire has a failed execution')
        t.ok(all.some((row) => row.scheduled_at.getTime() === Date.parse('2025-02-01T00:02:00Z') && row.status === 'completed'), 'the next slot runs')
      })
    })

    t.test('end to end: a per-second schedule through the API', async (t) => {
      const isogate = await startTestIsogate(t, { databaseUrl, triggerPollMs: 500 })
      t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'ticks', name: 'Ticks' } })).status, 201)

      t.test('the preview answers the next instants or names the bad field', async (t) => {
        const preview = await api(isogate, 'GET', `/api/v1/cron/preview?expression=${encodeURIComponent('30 2 * * *')}&timezone=America/New_York&from=2025-03-08T12:00:00Z&count=2`)
        t.equal(preview.status, 200)
        t.same(preview.body, { expression: '30 2 * * *', timezone: 'America/New_York', fixedTime: true, runs: ['2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z'] })
        const bad = await api(isogate, 'GET', `/api/v1/cron/preview?expression=${encodeURIComponent('0 25 * * *')}`)
        t.equal(bad.status, 400)
        t.match(bad.body.error, { code: 'VALIDATION_FAILED', message: /^expression: hour: /, details: { cronField: 'hour' } })
        const zone = await api(isogate, 'GET', `/api/v1/cron/preview?expression=${encodeURIComponent('0 0 * * *')}&timezone=Nowhere/Land`)
        t.match(zone.body.error, { code: 'VALIDATION_FAILED', message: /^timezone: / })
        const create = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'ticks', body: { name: 'bad', type: 'scheduled', source: TICK, cron: { expression: '0 0 * * 9' } } })
        t.equal(create.status, 400)
        t.match(create.body.error.message, /dayOfWeek/)
      })

      t.test('each second fires once; next and last run are on the script; pausing stops it at once', async (t) => {
        const created = await api(isogate, 'POST', '/api/v1/scripts', {
          tenant: 'ticks',
          body: { name: 'tick', type: 'scheduled', source: TICK, cron: { expression: '* * * * * *', timezone: 'Europe/Paris' } },
        })
        t.equal(created.status, 201)
        const id = created.body.id
        const rows = () => isogate.db.system((tx) => tx<Array<{ slot: string; n: number }>>`
          SELECT input->>'scheduledTime' AS slot, count(*)::int AS n FROM executions WHERE script_id = ${id} GROUP BY 1 ORDER BY 1`)
        // Until two slots have run (about 2 s; bounded), rather than a fixed 4 s.
        await until(rows, (slots) => slots.length >= 2)
        const schedule = await api(isogate, 'GET', `/api/v1/scripts/${id}/schedule`, { tenant: 'ticks' })
        t.equal(schedule.status, 200)
        t.match(schedule.body, { expression: '* * * * * *', timezone: 'Europe/Paris', nextRunAt: String, lastRunAt: String, lastRunStatus: /completed|running/ })
        const paused = await api(isogate, 'PATCH', `/api/v1/scripts/${id}`, { tenant: 'ticks', body: { status: 'paused' } })
        t.equal(paused.status, 200)
        await sleep(300)
        const before = await rows()
        t.ok(before.length >= 2, `at least two slots ran (${before.length})`)
        t.ok(before.every((row) => row.n === 1), 'each slot once')
        const slots = before.map((row) => Number(row.slot))
        t.ok(slots.every((slot, i) => i === 0 || slot - slots[i - 1]! === 1000), 'consecutive seconds')
        t.equal((await api(isogate, 'GET', `/api/v1/scripts/${id}/schedule`, { tenant: 'ticks' })).body.nextRunAt, null, 'no next run while paused')
        await sleep(2_000)
        t.equal((await rows()).length, before.length, 'no fire after the pause')
        const resumed = await api(isogate, 'PATCH', `/api/v1/scripts/${id}`, { tenant: 'ticks', body: { status: 'active' } })
        t.equal(resumed.status, 200)
        t.ok((await until(rows, (slots) => slots.length > before.length)).length > before.length, 'fires again once resumed')
        await api(isogate, 'PATCH', `/api/v1/scripts/${id}`, { tenant: 'ticks', body: { status: 'paused' } })
      })
    })
  })
}
