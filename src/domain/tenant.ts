import { z } from 'zod'

export interface Tenant {
  id: string
  slug: string
  name: string
  createdAt: Date
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
