import { LRUCache } from 'lru-cache'
import type { CallCancel, RelayedHostCall } from '../../runner/index.js'
import { EgressPolicy } from './egress-policy.js'
import { GuardedFetch } from './guarded-fetch.js'
import type { OutboundRequest } from './outbound-request.js'

export interface OutboundFetchApiOptions {
  /** CIDRs a trusted operator lets scripts reach although they are not public. */
  allowPrivateRanges: string[]
  /** Tenant slug -> host patterns its scripts may fetch; a tenant not listed may fetch any public host. */
  allowedHosts?: Readonly<Record<string, readonly string[]>> | undefined
  /** Exact `host:port:address[:port]` entries a fetch connects to without DNS (see ResolveOverrides). */
  resolve?: readonly string[] | undefined
  /** PEM certificate authorities trusted besides Node's bundled ones. */
  extraCa?: string | undefined
  connectTimeoutMs: number
  timeoutMs: number
  maxResponseBytes: number
  /** The slug of a tenant id (the allowlist is configured by slug). */
  slugOf(tenantId: string): Promise<string | null>
}

/**
 * The host API 'http.fetch' behind `fetch` and `ctx.http` in scripts: the guarded client, with the
 * per-tenant allowlist looked up by slug. The allowlist fails closed: a tenant whose slug is not
 * known yet gets an empty list until it is, never "any host".
 *
 * @example
 * hostApis.add('http.fetch', outboundFetchApi({ allowPrivateRanges: [], connectTimeoutMs: 5000, timeoutMs: 30000, maxResponseBytes: 5 << 20, slugOf }))
 */
export function outboundFetchApi(options: OutboundFetchApiOptions): (call: RelayedHostCall, cancel: CallCancel) => Promise<unknown> {
  const allowlists = options.allowedHosts
  const slugs = new LRUCache<string, string>({ max: 10_000 })
  const policy = new EgressPolicy({
    allowPrivateRanges: options.allowPrivateRanges,
    resolve: options.resolve ?? [],
    ...(allowlists === undefined
      ? {}
      : {
          allowedHosts: (tenantId: string) => {
            const slug = slugs.get(tenantId)
            return slug === undefined ? [] : allowlists[slug]
          },
        }),
  })
  const client = new GuardedFetch({
    policy,
    connectTimeoutMs: options.connectTimeoutMs,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    extraCa: options.extraCa,
  })
  return async ({ tenantId, args }, cancel) => {
    if (allowlists !== undefined && !slugs.has(tenantId)) {
      const slug = await options.slugOf(tenantId)
      if (slug !== null) slugs.set(tenantId, slug)
    }
    // prepareRequest (inside) checks every field: the request comes from untrusted code.
    return client.fetch(tenantId, args[0] as OutboundRequest, cancel.signal)
  }
}
