import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { parseInput } from '../../services/validation.js'
import { documentationOnlySchemas, jsonSchema, params, response, type RouteSchema } from '../openapi.js'
import type { ApiDependencies } from '../server.js'
import { expiresAt } from './tenants.js'

const superadminKeyInput = z.object({ name: z.string().trim().min(1).max(200), expiresAt }).strict()
const tags = ['keys']

/** The superadmin keys (superadmin). `GET /whoami` is in live.ts, beside the CLI's other calls. */
export const keyRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  documentationOnlySchemas(app)

  const list: RouteSchema = { tags, operationId: 'listSuperadminKeys', summary: 'Superadmin keys, revoked and expired ones too (never a token)', response: { 200: response('{items}') } }
  app.get('/keys', { schema: list }, async (request) => ({ items: await deps.auth.listSuperadminKeys(request.principal), nextCursor: null }))

  const create: RouteSchema = { tags, operationId: 'createSuperadminKey', summary: 'Create a superadmin key (optional expiresAt); the token is in this answer only', body: jsonSchema(superadminKeyInput), response: { 201: response('{id, token, role, name, expiresAt}') } }
  app.post('/keys', { schema: create }, async (request, reply) => {
    const input = parseInput(superadminKeyInput, request.body)
    return reply.status(201).send(await deps.auth.createSuperadminKey(request.principal, input))
  })

  const revoke: RouteSchema = { tags, operationId: 'revokeSuperadminKey', summary: 'Revoke a superadmin key (not the last live one: 409)', params: params(['id']), response: { 204: { description: 'Revoked', type: 'null' } } }
  app.delete<{ Params: { id: string } }>('/keys/:id', { schema: revoke }, async (request, reply) => {
    await deps.auth.revokeSuperadminKey(request.principal, request.params.id)
    return reply.status(204).send()
  })
}
