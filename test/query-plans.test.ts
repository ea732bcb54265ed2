import t from 'tap'
import { TEST_EMBEDDED_TEMPLATE } from '../config/test.js'
import { Database, type Tx } from '../src/db/index.js'
import { databaseTargets } from './helpers/databases.js'
import { tempFolder } from './helpers/temp.js'

interface PlanNode {
  'Node Type': string
  'Index Name'?: string
  Plans?: PlanNode[]
}

/** Every node of a plan, depth first. */
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

async function explain(tx: Tx, query: string): Promise<{ indexes: string[]; summary: string }> {
  const [row] = await tx.unsafe<Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>>(`EXPLAIN (FORMAT JSON) ${query}`)
  const all = nodes(row!['QUERY PLAN'][0]!.Plan)
  return {
    indexes: all.flatMap((node) => (node['Index Name'] ? [node['Index Name']] : [])),
    summary: all.map((node) => `${node['Node Type']}${node['Index Name'] ? ` on ${node['Index Name']}` : ''}`).join(' > '),
  }
}

for (const target of databaseTargets()) {
  t.test(`the hot control-plane queries use their indexes on the ${target.name} database`, async (t) => {
    const url = await target.createUrl()
    t.teardown(() => target.cleanup())
    const db = await Database.open({ url, dataDir: tempFolder(t, 'isogate-plans-'), embeddedTemplate: TEST_EMBEDDED_TEMPLATE })
    t.teardown(() => db.close())

    // 10 tenants x 100 scripts, 50 000 executions over a year, 50 000 audit entries: enough rows
    // per tenant that the planner walks an index in order instead of sorting a whole tenant.
    const tenantIds = await db.system(async (tx) => {
      await tx`INSERT INTO tenants (slug, name) SELECT 'plan-' || g, 'plan' FROM generate_series(1, 10) g`
      await tx`
        INSERT INTO scripts (tenant_id, name, type, status, version, created_at)
        SELECT t.id, 's' || g, (ARRAY['http','scheduled','event','oneoff'])[1 + g % 4], (ARRAY['active','draft','paused'])[1 + g % 3], 1,
          now() - g * interval '1 minute'
        FROM tenants t, generate_series(1, 100) g`
      await tx`
        INSERT INTO executions (id, tenant_id, script_id, script_version, trigger, status, created_at)
        SELECT gen_random_uuid(), s.tenant_id, s.id, 1, (ARRAY['http','cron','event','manual'])[1 + g % 4],
          (ARRAY['completed','completed','completed','failed'])[1 + g % 4], now() - (g * 7 + length(s.name)) * interval '1 hour'
        FROM scripts s, generate_series(1, 50) g`
      await tx`
        INSERT INTO audit_log (tenant_id, actor_role, action, resource_type, resource_id)
        SELECT t.id, 'admin', 'script.update', 'script', g::text FROM tenants t, generate_series(1, 5000) g`
      await tx`
        INSERT INTO documents (tenant_id, collection, data, bytes, created_at)
        SELECT t.id, 'c' || (g % 2), jsonb_build_object('n', g), 10, now() - g * interval '1 second'
        FROM tenants t, generate_series(1, 2000) g`
      await tx`ANALYZE`
      return (await tx<{ id: string }[]>`SELECT id FROM tenants ORDER BY slug`).map((row) => row.id)
    })
    const tenant = tenantIds[0]!
    const [someScript] = await db.system((tx) => tx<{ id: string }[]>`SELECT script_id AS id FROM executions WHERE tenant_id = ${tenant} LIMIT 1`)
    const cursor = `AND (created_at, id) < (now() - interval '30 days', '00000000-0000-0000-0000-000000000000'::uuid)`
    const cases: Array<[string, string, string[]]> = [
      ['executions, newest first', `SELECT id FROM executions WHERE tenant_id = '${tenant}' ORDER BY created_at DESC, id DESC LIMIT 51`, ['executions_tenant_created']],
      ['executions, a later page', `SELECT id FROM executions WHERE tenant_id = '${tenant}' ${cursor} ORDER BY created_at DESC, id DESC LIMIT 51`, ['executions_tenant_created']],
      ['executions of a script', `SELECT id FROM executions WHERE tenant_id = '${tenant}' AND script_id = '${someScript!.id}' ORDER BY created_at DESC, id DESC LIMIT 51`, ['executions_tenant_script_created']],
      ['failed executions', `SELECT id FROM executions WHERE tenant_id = '${tenant}' AND status = 'failed' ORDER BY created_at DESC, id DESC LIMIT 51`, ['executions_tenant_status_created']],
      ['scripts, newest first', `SELECT id FROM scripts WHERE tenant_id = '${tenant}' ORDER BY created_at DESC, id DESC LIMIT 51`, ['scripts_tenant_created', 'scripts_tenant_status', 'scripts_tenant_type_status']],
      ['audit trail', `SELECT id FROM audit_log WHERE tenant_id = '${tenant}' ORDER BY created_at DESC, id DESC LIMIT 51`, ['audit_log_tenant_created']],
      // The shape of a ctx.db page in the default order (DocumentRepository.page): a running sum
      // over the page's own order, so the window reads only the rows the LIMIT takes.
      ['documents, a page', `SELECT id FROM (SELECT id, sum(bytes) OVER w AS running FROM documents WHERE tenant_id = '${tenant}' AND collection = 'c1'
        WINDOW w AS (ORDER BY created_at ASC, id ASC ROWS UNBOUNDED PRECEDING) ORDER BY created_at ASC, id ASC LIMIT 101) page WHERE running < 4194304`, ['documents_collection_created']],
      ['documents, a later page', `SELECT id FROM documents WHERE tenant_id = '${tenant}' AND collection = 'c1'
        AND (created_at, id) > (now() - interval '10 minutes', '00000000-0000-0000-0000-000000000000'::uuid) ORDER BY created_at ASC, id ASC LIMIT 101`, ['documents_collection_created']],
      // Both indexes lead with (tenant_id, collection) and hold id; with a thousand documents a
      // collection the planner prices them the same and may take either.
      ['a document by id', `SELECT data FROM documents WHERE tenant_id = '${tenant}' AND collection = 'c1' AND id = '00000000-0000-0000-0000-000000000000'`, ['documents_pkey', 'documents_collection_created']],
    ]
    // Scripts per tenant are few (hundreds): sorting them after a tenant index scan is as good as
    // walking scripts_tenant_created, and the planner may pick either.
    for (const [label, query, expected] of cases) {
      // As the application role, so the row-level security predicate is part of the plan.
      const plan = await db.tenant(tenant, (tx) => explain(tx, query))
      t.comment(`${label}: ${plan.summary}`)
      t.ok(expected.some((index) => plan.indexes.includes(index)), `${label} uses ${expected.join(' or ')} (plan: ${plan.summary})`)
    }
    // Filters on type and status: any index of scripts (the triggers' partial index on due cron
    // scripts may fit better than (tenant_id, type, status)), never a scan of every tenant's scripts.
    const byType = await db.tenant(tenant, (tx) => explain(tx, `SELECT id FROM scripts WHERE tenant_id = '${tenant}' AND type = 'scheduled' AND status = 'active'`))
    t.comment(`scripts by type and status: ${byType.summary}`)
    t.ok(byType.indexes.length > 0 && !byType.summary.includes('Seq Scan'), `scripts by type and status use an index (plan: ${byType.summary})`)
    const purge = await db.system((tx) => explain(tx, 'SELECT id FROM executions WHERE created_at < now() - interval \'90 days\' ORDER BY created_at LIMIT 1000'))
    t.comment(`retention batch (system role): ${purge.summary}`)
    t.ok(purge.indexes.includes('executions_created'), 'the purge walks the created_at index')
  })
}
