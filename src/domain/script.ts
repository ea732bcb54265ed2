import { z } from 'zod'

export const SCRIPT_TYPES = ['http', 'scheduled', 'event', 'oneoff', 'embedded'] as const
export type ScriptType = (typeof SCRIPT_TYPES)[number]

export const SCRIPT_STATUSES = ['draft', 'active', 'paused', 'disabled', 'archived'] as const
export type ScriptStatus = (typeof SCRIPT_STATUSES)[number]

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
export type HttpMethod = (typeof HTTP_METHODS)[number]

export interface ScriptLimits {
  timeoutMs?: number
  cpuMs?: number
  memoryMb?: number
  apiCalls?: number
  outputBytes?: number
}

export interface Script {
  id: string
  tenantId: string
  name: string
  type: ScriptType
  status: ScriptStatus
  version: number
  http: { path: string; methods: HttpMethod[] } | null
  cron: { expression: string; timezone: string } | null
  events: { types: string[] } | null
  limits: ScriptLimits
  env: Record<string, string>
  createdAt: Date
  updatedAt: Date
}

export interface ScriptVersion {
  scriptId: string
  version: number
  source: string
  sourceHash: string
  createdAt: Date
}

/**
 * Route paths: literal segments, `:name` parameters, and an optional trailing `*` wildcard.
 * `/orders/:id`, `/static/*`, `/`.
 */
export const ROUTE_PATH = /^\/(?:(?:[A-Za-z0-9._~!$&'()+,;=@-]+|:[A-Za-z_][A-Za-z0-9_]*)(?:\/(?:[A-Za-z0-9._~!$&'()+,;=@-]+|:[A-Za-z_][A-Za-z0-9_]*))*)?(?:\/\*)?\/?$/

const limits = z
  .object({
    timeoutMs: z.number().int().min(1),
    cpuMs: z.number().int().min(1),
    memoryMb: z.number().int().min(8),
    apiCalls: z.number().int().min(0),
    outputBytes: z.number().int().min(1),
  })
  .partial()
  .strict()

export const scriptInput = z
  .object({
    name: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'must start with a letter or digit and use letters, digits, spaces, dots, dashes or underscores'),
    type: z.enum(SCRIPT_TYPES).default('http'),
    status: z.enum(SCRIPT_STATUSES).default('active'),
    source: z.string().min(1),
    http: z
      .object({
        path: z.string().regex(ROUTE_PATH, 'must start with / and use literal segments, :params and an optional trailing /*'),
        methods: z.array(z.enum(HTTP_METHODS)).min(1).default(['GET']),
      })
      .strict()
      .optional(),
    cron: z.object({ expression: z.string().min(1), timezone: z.string().min(1).default('UTC') }).strict().optional(),
    events: z.object({ types: z.array(z.string().min(1).max(200)).min(1) }).strict().optional(),
    limits: limits.default({}),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are identifiers'), z.string()).default({}),
  })
  .strict()
  .superRefine((script, ctx) => {
    if (script.type === 'http' && !script.http) ctx.addIssue({ code: 'custom', path: ['http'], message: 'an http script needs http.path' })
    if (script.type === 'scheduled' && !script.cron) ctx.addIssue({ code: 'custom', path: ['cron'], message: 'a scheduled script needs cron.expression' })
    if (script.type === 'event' && !script.events) ctx.addIssue({ code: 'custom', path: ['events'], message: 'an event script needs events.types' })
  })

export type ScriptInput = z.infer<typeof scriptInput>
