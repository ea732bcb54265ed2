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

/** Creates the demo tenant and its /hello script on first start; later starts leave them be. */
export async function ensureDemo(tenants: TenantService, scripts: ScriptService): Promise<boolean> {
  if ((await tenants.findBySlug('demo')) !== null) return false
  const tenant = await tenants.create(SYSTEM_PRINCIPAL, { slug: 'demo', name: 'Demo' })
  await scripts.create(SYSTEM_PRINCIPAL, tenant, {
    name: 'hello',
    type: 'http',
    source: DEMO_SOURCE,
    http: { path: '/hello', methods: ['GET'] },
  })
  return true
}
