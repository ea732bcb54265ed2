import { z } from 'zod'

/**
 * What a superadmin lets one tenant use. The six per-script maximums cap what a script may ask
 * for in `limits` (and its source size); the rest bound the tenant as a whole.
 */
export interface TenantQuota {
  /** Largest `limits.timeoutMs` a script may ask for. */
  timeoutMs: number
  cpuMs: number
  memoryMb: number
  apiCalls: number
  outputBytes: number
  /** Largest script source, in UTF-8 bytes. */
  sourceBytes: number
  /** Scripts the tenant may have (any type, any status). */
  scripts: number
  /** Data-plane requests per second, per node (a token bucket with a burst of one second); 0: no limit. */
  requestsPerSecond: number
  /** Bytes of ctx.db documents (JSON text). */
  dbBytes: number
  /** Bytes of ctx.cache entries, per node. */
  cacheBytes: number
  /** Data-plane runs in flight at once, per node. */
  concurrency: number
}

/** The per-script limits a quota caps, in the order the API names them. */
export const SCRIPT_LIMIT_QUOTAS = ['timeoutMs', 'cpuMs', 'memoryMb', 'apiCalls', 'outputBytes'] as const

/** Each field's absolute range (the same bounds the script limits have). */
const FIELDS = {
  timeoutMs: z.number().int().min(1).max(900_000),
  cpuMs: z.number().int().min(1).max(900_000),
  memoryMb: z.number().int().min(8).max(4096),
  apiCalls: z.number().int().min(0).max(100_000),
  outputBytes: z.number().int().min(1).max(100 * 1024 * 1024),
  sourceBytes: z.number().int().min(1).max(1024 * 1024),
  scripts: z.number().int().min(0).max(100_000),
  requestsPerSecond: z.number().min(0).max(1_000_000),
  dbBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  cacheBytes: z.number().int().min(1).max(16 * 1024 * 1024 * 1024),
  concurrency: z.number().int().min(1).max(100_000),
} satisfies Record<keyof TenantQuota, z.ZodType>

/**
 * `PUT /tenants/{slug}/quota`: the whole quota. A field left out (or null) is the default from
 * the settings, so a PUT of `{}` returns the tenant to the defaults.
 */
export const quotaInput = z
  .object(Object.fromEntries(Object.entries(FIELDS).map(([key, schema]) => [key, schema.nullable().optional()])) as {
    [K in keyof TenantQuota]: z.ZodOptional<z.ZodNullable<(typeof FIELDS)[K]>>
  })
  .strict()

/** What the tenant_quotas row holds: only the fields the operator set. */
export type QuotaOverrides = Partial<TenantQuota>

/** The overrides in a PUT body (nulls and absent fields dropped). */
export function overridesOf(input: z.infer<typeof quotaInput>): QuotaOverrides {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(input)) if (typeof value === 'number') out[key] = value
  return out as QuotaOverrides
}

/** The quota in force: the overrides over the defaults. Stored fields that no longer parse are ignored. */
export function effectiveQuota(defaults: TenantQuota, overrides: unknown): TenantQuota {
  const quota = { ...defaults }
  if (overrides === null || typeof overrides !== 'object') return quota
  for (const key of Object.keys(FIELDS) as Array<keyof TenantQuota>) {
    const parsed = FIELDS[key].safeParse((overrides as Record<string, unknown>)[key])
    if (parsed.success) quota[key] = parsed.data
  }
  return quota
}
