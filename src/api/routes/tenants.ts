import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ROLES } from '../../domain/auth.js'
import { tenantInput } from '../../domain/tenant.js'
import { requireRole } from '../../services/index.js'
import { parseInput } from '../../services/validation.js'
import { documentationOnlySchemas, jsonSchema, params, response, type RouteSchema } from '../openapi.js'
import type { ApiDependencies } from '../server.js'

const keyInput = z.object({ role: z.enum(ROLES), name: z.string().trim().min(1).max(200) }).strict()
const tags = ['tenants']

/** Tenants (superadmin) and their API keys (the tenant's admins, or a superadmin). */
export const tenantRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  documentationOnlySchemas(app)

  const create: RouteSchema = { tags, operationId: 'createTenant', summary: 'Create a tenant (superadmin)', body: jsonSchema(tenantInput), response: { 201: response('The tenant') } }
  app.post('/tenants', { schema: create }, async (request, reply) => {
    const tenant = await deps.tenants.create(request.principal, request.body)
    return reply.status(201).send(tenant)
  })

  const createKey: RouteSchema = {
    tags,
    operationId: 'createApiKey',
    summary: 'Create an API key; the token is in this answer only',
    params: params(['slug']),
    body: jsonSchema(keyInput),
    response: { 201: response('{id, token, role, name}') },
  }
  app.post<{ Params: { slug: string } }>('/tenants/:slug/keys', { schema: createKey }, async (request, reply) => {
    requireRole(request.principal, ['superadmin', 'admin'])
    const input = parseInput(keyInput, request.body)
    const tenant = await deps.tenants.resolve(request.principal, request.params.slug)
    const key = await deps.auth.createKey(request.principal, tenant.id, input)
    return reply.status(201).send(key)
  })

  const listKeys: RouteSchema = { tags, operationId: 'listApiKeys', summary: "The tenant's keys, revoked ones too (never a token)", params: params(['slug']), response: { 200: response('{items}') } }
  app.get<{ Params: { slug: string } }>('/tenants/:slug/keys', { schema: listKeys }, async (request) => {
    requireRole(request.principal, ['superadmin', 'admin'])
    const tenant = await deps.tenants.resolve(request.principal, request.params.slug)
    return { items: await deps.auth.listKeys(request.principal, tenant.id), nextCursor: null }
  })

  const revoke: RouteSchema = { tags, operationId: 'revokeApiKey', summary: 'Revoke a key; it answers 401 from now on', params: params(['slug', 'id']), response: { 204: { description: 'Revoked', type: 'null' } } }
  app.delete<{ Params: { slug: string; id: string } }>('/tenants/:slug/keys/:id', { schema: revoke }, async (request, reply) => {
    requireRole(request.principal, ['superadmin', 'admin'])
    const tenant = await deps.tenants.resolve(request.principal, request.params.slug)
    await deps.auth.revokeKey(request.principal, tenant.id, request.params.id)
    return reply.status(204).send()
  })
}
