import swagger from '@fastify/swagger'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { z } from 'zod'

/**
 * JSON Schema of a domain zod schema, for the OpenAPI document. The same zod schema validates the
 * request in the service (with the field-naming 400), so the document cannot drift from the rules.
 * Recursive definitions (`z.json()`: any JSON value) become `{}` (any value): OpenAPI 3.0 has no
 * `$defs`, and a `$ref` to one would dangle in the document.
 */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, $defs: _defs, definitions: _definitions, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'any' }) as Record<string, unknown>
  return withoutRefs(rest) as Record<string, unknown>
}

function withoutRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutRefs)
  if (value === null || typeof value !== 'object') return value
  if ('$ref' in value) return { description: 'Any JSON value' }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutRefs(item)]))
}

/** A path parameter schema: `params(['id'])`. */
export function params(names: readonly string[]): Record<string, unknown> {
  return { type: 'object', properties: Object.fromEntries(names.map((name) => [name, { type: 'string' }])), required: [...names] }
}

/** A documented response without a strict shape (the serializer is plain JSON.stringify). */
export function response(description: string): Record<string, unknown> {
  return { description, type: 'object', additionalProperties: true }
}

export const LIST_RESPONSE = {
  description: 'One page; pass nextCursor as cursor for the next (null on the last page)',
  type: 'object',
  properties: { items: { type: 'array', items: { type: 'object', additionalProperties: true } }, nextCursor: { type: 'string', nullable: true } },
}

/**
 * Route schemas in this API are documentation: requests are validated once, by the domain zod
 * schemas in the services (Fastify's Ajv would validate a second time with different rules:
 * removeAdditional, coercion), and responses are serialized with JSON.stringify. Call this at
 * the top of a route plugin; Fastify scopes it to that plugin.
 */
export function documentationOnlySchemas(app: FastifyInstance): void {
  app.setValidatorCompiler(() => (data) => ({ value: data }))
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
}

export type RouteSchema = FastifySchema & { tags?: string[]; summary?: string; operationId?: string; security?: Array<Record<string, string[]>> }

/** The error envelope every failure answers, as the document describes it. */
export const ERROR_RESPONSE = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'A stable code from the README error table (VALIDATION_FAILED, SCRIPT_NOT_FOUND, ...)' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true, properties: { fields: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } } } },
      },
    },
  },
}

const ERRORS: Record<string, string> = {
  400: 'The request is not valid (VALIDATION_FAILED names each field)',
  401: 'No valid API key (UNAUTHORIZED)',
  403: 'The key lacks the permission (FORBIDDEN)',
  404: 'No such resource, or no such tenant',
  405: 'The path does not serve this method (Allow lists those it does)',
  409: 'A conflict with the current state',
  413: 'The body is over the size limit',
  415: 'The body is not JSON',
  500: 'Internal error',
  503: 'The database is not available',
}

/** X-Tenant, for routes that act on one tenant: a superadmin names it; a tenant key acts on its own. */
const TENANT_HEADER = { 'x-tenant': { type: 'string', description: "The tenant a superadmin key acts on (its slug); a tenant's own key ignores it" } }

/**
 * Completes every /api/v1 route's documentation: the error responses in the one envelope, the
 * X-Tenant header where the route acts on one tenant, and the bearer security. Each route still
 * names its own operationId, summary, parameters, body and success status.
 */
function documentErrors(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/v1/') || route.url === '/api/v1/openapi.json' || route.method === 'HEAD') return
    const schema = (route.schema ?? {}) as RouteSchema & { response?: Record<string, unknown>; headers?: { type?: string; properties?: Record<string, unknown> } }
    const response = { ...(schema.response ?? {}) }
    for (const [status, description] of Object.entries(ERRORS)) {
      if (response[status] === undefined) response[status] = { description, ...ERROR_RESPONSE }
    }
    const next: Record<string, unknown> = { ...schema, response }
    if (!route.url.startsWith('/api/v1/tenants')) {
      next.headers = { type: 'object', ...(schema.headers ?? {}), properties: { ...(schema.headers?.properties ?? {}), ...TENANT_HEADER } }
    }
    route.schema = next as FastifySchema
  })
}

/**
 * Collects every route's schema into an OpenAPI 3 document served at /api/v1/openapi.json
 * (public: it describes the API, it reveals no tenant's data). Register before the routes.
 */
export function registerOpenApi(app: FastifyInstance): void {
  documentErrors(app)
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'isogate control plane', version: '1.0.0', description: 'Multi-tenant function gateway: tenants, keys, scripts, versions, runs, executions, events, audit.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (igk_...)' } } },
      security: [{ bearer: [] }],
    },
  })
  app.get('/api/v1/openapi.json', { schema: { hide: true } as FastifySchema }, async () => app.swagger())
}
