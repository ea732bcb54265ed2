import swagger from '@fastify/swagger'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { z } from 'zod'

/**
 * JSON Schema of a domain zod schema, for the OpenAPI document. The same zod schema validates the
 * request in the service (with the field-naming 400), so the document cannot drift from the rules.
 */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'any' }) as Record<string, unknown>
  return rest
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

export type RouteSchema = FastifySchema & { tags?: string[]; summary?: string; security?: Array<Record<string, string[]>> }

/**
 * Collects every route's schema into an OpenAPI 3 document served at /api/v1/openapi.json
 * (public: it describes the API, it reveals no tenant's data). Register before the routes.
 */
export function registerOpenApi(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'isogate control plane', version: '1.0.0', description: 'Multi-tenant function gateway: tenants, keys, scripts, versions, runs, executions, audit.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (igk_...)' } } },
      security: [{ bearer: [] }],
    },
  })
  app.get('/api/v1/openapi.json', { schema: { hide: true } as FastifySchema }, async () => app.swagger())
}
