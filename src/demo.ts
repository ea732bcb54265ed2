import type { Database } from './db/database.js'
import type { TenantRepository } from './db/tenant.repository.js'
import { SYSTEM_PRINCIPAL } from './domain/auth.js'
import type { ScriptService, TenantService } from './services/index.js'

export const DEMO_SOURCE = `// The demo tenant's first function. Try: curl http://127.0.0.1:8080/demo/hello?name=you
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    const name = url.searchParams.get('name') ?? 'world'
    return Response.json({ hello: name, method: request.method, path: url.pathname })
  },
}
`

/**
 * Creates the demo tenant and its /hello script on the first start of a database with no tenants
 * (when `enabled`); later starts leave it be, and never bring it back once deleted: it is an
 * ordinary tenant. The first start is marked either way, so enabling the demo later adds nothing.
 */
export async function ensureDemo(db: Database, repository: TenantRepository, tenants: TenantService, scripts: ScriptService, enabled: boolean): Promise<boolean> {
  const first = await db.system(async (tx) => (await repository.markFirstStart(tx)) && (await repository.count(tx)) === 0)
  if (!first || !enabled) return false
  const tenant = await tenants.create(SYSTEM_PRINCIPAL, { slug: 'demo', name: 'Demo' })
  await scripts.create(SYSTEM_PRINCIPAL, tenant, {
    name: 'hello',
    type: 'http',
    source: DEMO_SOURCE,
    http: { path: '/hello', methods: ['GET'] },
  })
  return true
}
