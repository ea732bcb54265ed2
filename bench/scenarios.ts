/** What each bench scenario deploys: one script per tenant, served at /{tenant}/run. */
export const SCRIPTS = {
  hello: `export default { fetch() { return new Response('hello') } }`,
  echo: `export default { async fetch(request) { return Response.json(await request.json()) } }`,
  cpu: `export default { fetch() { let x = 0; const end = Date.now() + 1; while (Date.now() < end) x++; return new Response(String(x)) } }`,
  /** Reads one key from ctx.cache; the first request seeds it, so every body shows the seed's time. */
  cache: `export default {
    async fetch(request, env, ctx) {
      let value = await ctx.cache.get('greeting')
      if (value === null) {
        value = { hello: 'from ctx.cache', seededAt: Date.now() }
        await ctx.cache.set('greeting', value, { ttlSeconds: 3600 })
      }
      return Response.json(value)
    },
  }`,
  /** 90 sequential ctx.cache.get calls in one run (under the default limit of 100 host calls); answers the time they took. */
  cacheRoundTrips: `export default {
    async fetch(request, env, ctx) {
      await ctx.cache.set('k', 'v')
      const calls = 90
      const started = Date.now()
      for (let i = 0; i < calls; i++) await ctx.cache.get('k')
      return Response.json({ ms: Date.now() - started, calls })
    },
  }`,
  /** V8 aborts the whole runner process (in a 16 MB isolate), as test/runner-crash-gateway.test.ts shows. */
  crash: `export default { fetch() { new Array(1e9).fill(0); return new Response('survived') } }`,
} as const

/** A 1 KB JSON body for the echo scenario. */
export const ECHO_BODY = JSON.stringify({ items: Array.from({ length: 24 }, (_, i) => ({ id: i, name: `item-${i}`, ok: i % 2 === 0 })) }).slice(0, 1024)

export interface Deployer {
  /** Creates the tenant (if new) and its `run` script, with more script `fields` such as `limits`; resolves to the tenant's id. */
  deploy(tenant: string, source: string, fields?: Record<string, unknown>): Promise<{ tenantId: string }>
  /** Sets fields of an existing tenant's quota (PUT /tenants/{slug}/quota), e.g. `{ memoryMb: 64 }`. */
  quota(tenant: string, quota: Record<string, number>): Promise<void>
}

/** Creates tenants and scripts through the control plane, as a user would. */
export function deployer(adminPort: number, token: string): Deployer {
  const base = `http://127.0.0.1:${adminPort}/api/v1`
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  return {
    async deploy(tenant, source, fields = {}) {
      const created = await fetch(`${base}/tenants`, { method: 'POST', headers, body: JSON.stringify({ slug: tenant, name: tenant }) })
      if (created.status !== 201 && created.status !== 409) throw new Error(`tenant ${tenant}: ${created.status} ${await created.text()}`)
      const script = await fetch(`${base}/scripts`, {
        method: 'POST',
        headers: { ...headers, 'x-tenant': tenant },
        body: JSON.stringify({ name: 'run', type: 'http', source, http: { path: '/run', methods: ['GET', 'POST'] }, ...fields }),
      })
      if (script.status !== 201) throw new Error(`script for ${tenant}: ${script.status} ${await script.text()}`)
      const { tenantId } = (await script.json()) as { tenantId: string }
      return { tenantId }
    },
    async quota(tenant, quota) {
      const response = await fetch(`${base}/tenants/${tenant}/quota`, { method: 'PUT', headers, body: JSON.stringify(quota) })
      if (response.status !== 200) throw new Error(`quota of ${tenant}: ${response.status} ${await response.text()}`)
    },
  }
}
