import { z } from 'zod'

export const TENANT_STATUSES = ['active', 'suspended'] as const
export type TenantStatus = (typeof TENANT_STATUSES)[number]

export interface Tenant {
  id: string
  slug: string
  name: string
  /** A suspended tenant's data plane answers 403 TENANT_SUSPENDED, its triggers wait, its API is read-only. */
  status: TenantStatus
  createdAt: Date
  updatedAt: Date
}

/** Slugs are DNS labels, so `{slug}.{baseDomain}` routing works for every tenant. */
export const SLUG_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** Slugs that would shadow isogate's own paths. */
const RESERVED = new Set(['api', 'healthz', 'readyz', 'metrics', 'admin', 'www'])

export const tenantInput = z.object({
  slug: z
    .string()
    .regex(SLUG_PATTERN, 'must be 1-63 lower-case letters, digits or inner hyphens')
    .refine((slug) => !RESERVED.has(slug), 'is reserved'),
  name: z.string().trim().min(1).max(200),
})

export type TenantInput = z.infer<typeof tenantInput>

/** `PATCH /tenants/{slug}`: the name, the status, or both. */
export const tenantPatch = z
  .object({ name: z.string().trim().min(1).max(200).optional(), status: z.enum(TENANT_STATUSES).optional() })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'name at least one field to change')

export type TenantPatch = z.infer<typeof tenantPatch>
