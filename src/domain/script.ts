import { z } from 'zod'
import { cronExpressionIssue, isTimeZone } from './cron-expression.js'
import { pageFields } from './page.js'

export const SCRIPT_TYPES = ['http', 'scheduled', 'event', 'oneoff', 'embedded'] as const
export type ScriptType = (typeof SCRIPT_TYPES)[number]

export const SCRIPT_STATUSES = ['draft', 'active', 'paused', 'disabled', 'archived'] as const
export type ScriptStatus = (typeof SCRIPT_STATUSES)[number]

/** What marks a sealed secret (services/secret-box.ts); no env value may start with it. */
export const SEALED_PREFIX = 'isogate:sealed:v1:'

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
export type HttpMethod = (typeof HTTP_METHODS)[number]

export interface ScriptLimits {
  timeoutMs?: number
  cpuMs?: number
  memoryMb?: number
  apiCalls?: number
  outputBytes?: number
}

/** How a script's runs are recorded (issue 15). */
export interface ScriptObservability {
  /** Share of successful HTTP runs recorded in full, 0..1; unset: ISOGATE_HTTP_SAMPLE_RATE. */
  sampleRate?: number
}

export interface Script {
  id: string
  tenantId: string
  name: string
  type: ScriptType
  status: ScriptStatus
  version: number
  http: { path: string; methods: HttpMethod[]; authSecret?: string } | null
  cron: { expression: string; timezone: string } | null
  events: { types: string[] } | null
  limits: ScriptLimits
  observability: ScriptObservability
  env: Record<string, string>
  /** Names of the script's secrets; their values are never read back. */
  secrets: string[]
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

const ROUTE_SEGMENT = String.raw`(?:[A-Za-z0-9._~!$&'()+,;=@-]+|:[A-Za-z_][A-Za-z0-9_]*)`

/**
 * Route paths: literal segments, `:name` parameters, and an optional trailing `/*` wildcard.
 * `/orders/:id`, `/static/*`, `/`, and `/*` (every path of the tenant, as a Worker mounted on a
 * whole host). A trailing slash is not significant: `/a/` is the route `/a`.
 */
export const ROUTE_PATH = new RegExp(String.raw`^\/(?:\*|${ROUTE_SEGMENT}(?:\/${ROUTE_SEGMENT})*(?:\/\*|\/)?)?$`)

/**
 * A route's shape: its path without parameter names or a trailing slash (`/r/:a/` -> `/r/:`).
 * Two routes of one shape would match the same requests, so one method of a tenant has at most
 * one active route per shape.
 */
export function routeShape(path: string): string {
  const shape = path.replace(/:[A-Za-z_][A-Za-z0-9_]*/g, ':')
  return shape.length > 1 && shape.endsWith('/') ? shape.slice(0, -1) : shape
}

const limits = z
  .object({
    timeoutMs: z.number().int().min(1).max(900_000),
    cpuMs: z.number().int().min(1).max(900_000),
    memoryMb: z.number().int().min(8).max(4096),
    apiCalls: z.number().int().min(0).max(100_000),
    outputBytes: z.number().int().min(1).max(100 * 1024 * 1024),
  })
  .partial()
  .strict()

const httpSpec = z
  .object({
    path: z.string().regex(ROUTE_PATH, 'must start with / and use literal segments, :params and an optional trailing /*'),
    /** Names a secret of the script that each data-plane request must present (Bearer or x-runtime-secret). */
    authSecret: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'names one of the script\'s secrets').optional(),
    methods: z
      .array(z.enum(HTTP_METHODS))
      .min(1)
      .refine((methods) => new Set(methods).size === methods.length, 'must not repeat a method')
      .default(['GET']),
  })
  .strict()

const cronSpec = z
  .object({
    expression: z.string().trim().min(1).superRefine((expression, ctx) => {
      const issue = cronExpressionIssue(expression)
      if (issue !== null) ctx.addIssue({ code: 'custom', message: issue })
    }),
    timezone: z.string().min(1).refine(isTimeZone, 'must be an IANA time zone such as UTC or Europe/Paris').default('UTC'),
  })
  .strict()

/** `observability.sampleRate: 1` records every successful HTTP run in full (an audit of each call). */
const observability = z.object({ sampleRate: z.number().min(0).max(1).optional() }).strict()

const eventsSpec = z.object({ types: z.array(z.string().trim().min(1).max(200)).min(1) }).strict()

const ENV_NAME = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are identifiers').max(128)
/** Sealed secrets sit beside env values on their way to a run; a plain value must never look like one. */
const envValue = z.string().max(64 * 1024).refine((value) => !value.startsWith(SEALED_PREFIX), `must not start with ${SEALED_PREFIX}`)
const env = z.record(ENV_NAME, envValue)
const secrets = z.record(ENV_NAME, z.string().min(1).max(64 * 1024))
/** A PATCH of secrets: a value sets or replaces one, null deletes it; secrets not named stay. */
const secretsPatch = z.record(ENV_NAME, z.string().min(1).max(64 * 1024).nullable())

/** Secrets and env share one namespace in a run: a name may be one or the other. */
export function secretNameClashes(envNames: Iterable<string>, secretNames: Iterable<string>): string[] {
  const names = new Set(envNames)
  return [...secretNames].filter((name) => names.has(name))
}

const name = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'must start with a letter or digit and use letters, digits, spaces, dots, dashes or underscores')

/** What a script of each type needs besides its source: the one rule for create and update. */
export function typeRequirementIssues(script: {
  type: ScriptType
  http?: unknown
  cron?: unknown
  events?: unknown
}): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = []
  if (script.type === 'http' && !script.http) issues.push({ path: 'http', message: 'an http script needs http.path' })
  if (script.type === 'scheduled' && !script.cron) issues.push({ path: 'cron', message: 'a scheduled script needs cron.expression' })
  if (script.type === 'event' && !script.events) issues.push({ path: 'events', message: 'an event script needs events.types' })
  return issues
}

export const scriptInput = z
  .object({
    name,
    type: z.enum(SCRIPT_TYPES).default('http'),
    status: z.enum(SCRIPT_STATUSES).default('active'),
    source: z.string().min(1),
    http: httpSpec.optional(),
    cron: cronSpec.optional(),
    events: eventsSpec.optional(),
    limits: limits.default({}),
    observability: observability.default({}),
    env: env.default({}),
    secrets: secrets.default({}),
  })
  .strict()
  .superRefine((script, ctx) => {
    for (const name of secretNameClashes(Object.keys(script.env), Object.keys(script.secrets))) {
      ctx.addIssue({ code: 'custom', path: ['secrets', name], message: `${name} is an env variable too; a name is one or the other` })
    }
    for (const issue of typeRequirementIssues(script)) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message })
  })

/**
 * A PATCH: any field of a script, none defaulted. `limits` and `env` replace the whole object.
 * A new `source` makes a new version; `status` must be an allowed transition (script-status.ts).
 */
export const scriptPatch = z
  .object({
    name: name.optional(),
    type: z.enum(SCRIPT_TYPES).optional(),
    status: z.enum(SCRIPT_STATUSES).optional(),
    source: z.string().min(1).optional(),
    http: httpSpec.optional(),
    cron: cronSpec.optional(),
    events: eventsSpec.optional(),
    limits: limits.optional(),
    observability: observability.optional(),
    env: env.optional(),
    secrets: secretsPatch.optional(),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'name at least one field to change')

export type ScriptPatch = z.infer<typeof scriptPatch>

export type ScriptInput = z.infer<typeof scriptInput>

/** `POST /scripts/{id}/rollback`: the version whose source becomes the next version. */
export const rollbackInput = z.object({ version: z.number().int().min(1) }).strict()

/** Query string of `GET /scripts`. */
export const scriptListQuery = z
  .object({
    type: z.enum(SCRIPT_TYPES).optional(),
    status: z.enum(SCRIPT_STATUSES).optional(),
    q: z.string().trim().min(1).max(100).optional(),
    ...pageFields,
  })
  .strict()

/** Query string of `GET /scripts/{id}/versions`: the cursor is the last version seen. */
export const versionListQuery = z
  .object({
    limit: pageFields.limit,
    cursor: z.coerce.number().int().min(1).optional(),
  })
  .strict()
