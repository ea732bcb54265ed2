import { pino } from 'pino'
import t from 'tap'
import { TEST_EMBEDDED_TEMPLATE } from '../config/test.js'
import { Database } from '../src/db/index.js'
import { ExecutionRollupRepository } from '../src/db/execution-rollup.repository.js'
import { RollupRetention } from '../src/services/rollup-retention.js'
import { TriggerRetention } from '../src/services/trigger-retention.js'
import { databaseTargets } from './helpers/databases.js'
import { tempFolder } from './helpers/temp.js'

for (const target of databaseTargets()) {
  t.test(`old events, deliveries, idempotency keys, cron fires, dead letters and rollup minutes are purged in batches on the ${target.name} database`, async (t) => {
    const url = await target.createUrl()
    t.teardown(() => target.cleanup())
    const db = await Database.open({ url, dataDir: tempFolder(t, 'isogate-retention-'), embeddedTemplate: TEST_EMBEDDED_TEMPLATE })
    t.teardown(() => db.close())

    await db.system(async (tx) => {
      const [tenant] = await tx<Array<{ id: string }>>`INSERT INTO tenants (slug, name) VALUES ('keep', 'Keep') RETURNING id`
      const [script] = await tx<Array<{ id: string }>>`
        INSERT INTO scripts (tenant_id, name, type, status, version) VALUES (${tenant!.id}, 'e', 'event', 'active', 1) RETURNING id`
      const tenantId = tenant!.id
      const scriptId = script!.id
      // 25 old events with finished deliveries, 1 old event whose delivery is still pending, 5 new ones.
      await tx`
        INSERT INTO events (id, tenant_id, type, source, created_at)
        SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, ${tenantId}, 'old', 'api', now() - interval '40 days'
        FROM generate_series(1, 26) g`
      await tx`INSERT INTO events (tenant_id, type, source) SELECT ${tenantId}, 'new', 'api' FROM generate_series(1, 5)`
      await tx`
        INSERT INTO event_deliveries (tenant_id, event_id, script_id, status, created_at, finished_at)
        SELECT ${tenantId}, e.id, ${scriptId}, 'completed', e.created_at, e.created_at FROM events e WHERE e.type = 'old'
          AND e.id <> '00000000-0000-4000-8000-000000000026'`
      await tx`
        INSERT INTO event_deliveries (tenant_id, event_id, script_id, status, created_at)
        VALUES (${tenantId}, '00000000-0000-4000-8000-000000000026', ${scriptId}, 'pending', now() - interval '40 days')`
      await tx`
        INSERT INTO event_idempotency (tenant_id, key, event_id, expires_at)
        SELECT ${tenantId}, 'k' || g, gen_random_uuid(), now() + (CASE WHEN g <= 7 THEN -1 ELSE 1 END) * interval '1 hour' FROM generate_series(1, 10) g`
      await tx`
        INSERT INTO cron_fires (script_id, scheduled_at, tenant_id, execution_id, status, claimed_by, finished_at)
        SELECT ${scriptId}, now() - g * interval '1 hour', ${tenantId}, gen_random_uuid(), 'completed', 'test', now() - g * interval '1 hour' - interval '30 minutes'
        FROM generate_series(1, 24 * 35) g`
      await tx`
        INSERT INTO cron_fires (script_id, scheduled_at, tenant_id, execution_id, status, claimed_by, lease_until)
        VALUES (${scriptId}, now() - interval '60 days', ${tenantId}, gen_random_uuid(), 'running', 'test', now())`
      await tx`
        INSERT INTO dead_letters (tenant_id, delivery_id, event_id, script_id, event, attempts, created_at)
        SELECT ${tenantId}, gen_random_uuid(), gen_random_uuid(), ${scriptId}, '{}', '[]', now() - (g * 10 - 5) * interval '1 day' FROM generate_series(1, 12) g`
    })
    const count = (sql: string) => db.system(async (tx) => Number((await tx.unsafe<Array<{ n: number }>>(sql))[0]!.n))

    const retention = new TriggerRetention({ db, logger: pino({ level: 'silent' }), eventDays: 30, cronFireDays: 30, deadLetterDays: 90, batchSize: 10 })
    const purged = await retention.purge()
    t.same(purged, { event_deliveries: 25, events: 25, event_idempotency: 7, cron_fires: 121, dead_letters: 3 })
    t.equal(await count(`SELECT count(*) AS n FROM events WHERE type = 'old'`), 1, 'an old event whose delivery is pending stays')
    t.equal(await count(`SELECT count(*) AS n FROM event_deliveries WHERE status = 'pending'`), 1, 'with its delivery')
    t.equal(await count(`SELECT count(*) AS n FROM events WHERE type = 'new'`), 5)
    t.equal(await count(`SELECT count(*) AS n FROM event_idempotency`), 3, 'keys still in their window stay')
    t.equal(await count(`SELECT count(*) AS n FROM cron_fires WHERE status = 'running'`), 1, 'a running fire stays, however old')
    t.equal(await count(`SELECT count(*) AS n FROM cron_fires WHERE finished_at < now() - interval '30 days'`), 0)
    t.equal(await count(`SELECT count(*) AS n FROM dead_letters`), 9, 'dead letters within 90 days stay')
    t.same(await retention.purge(), { event_deliveries: 0, events: 0, event_idempotency: 0, cron_fires: 0, dead_letters: 0 }, 'a second purge finds nothing')

    t.throws(() => new TriggerRetention({ db, logger: pino({ level: 'silent' }), eventDays: 0, cronFireDays: 1, deadLetterDays: 1 }), { name: 'RangeError', message: /eventDays/ })

    // Per-minute rollups: 25 minutes of 31 and 32 days ago go (batches of 10), the day-old ones stay.
    await db.system(async (tx) => {
      const [tenant] = await tx<Array<{ id: string }>>`SELECT id FROM tenants WHERE slug = 'keep'`
      await tx`
        INSERT INTO execution_rollups (tenant_id, script_id, minute, node_id, runs, completed, failed, duration_hist, cpu_hist)
        SELECT ${tenant!.id}, gen_random_uuid(), date_trunc('minute', now()) - (CASE WHEN g <= 25 THEN 31 + g % 2 ELSE 1 END) * interval '1 day' - g * interval '1 minute',
          gen_random_uuid(), 1, 1, 0, '{}', '{}'
        FROM generate_series(1, 30) g`
    })
    const rollups = new RollupRetention({ db, rollups: new ExecutionRollupRepository(), logger: pino({ level: 'silent' }), retentionDays: 30, batchSize: 10 })
    t.equal(await rollups.purge(), 25, 'rollup minutes past 30 days went')
    t.equal(await count(`SELECT count(*) AS n FROM execution_rollups`), 5, 'newer minutes stay')
    t.equal(await rollups.purge(), 0, 'a second purge finds nothing')
    t.throws(() => new RollupRetention({ db, rollups: new ExecutionRollupRepository(), logger: pino({ level: 'silent' }), retentionDays: 1, intervalMs: 0.5 }), { name: 'RangeError', message: /intervalMs/ })
  })
}
