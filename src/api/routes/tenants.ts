import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ROLES } from '../../domain/auth.js'
import { parseInput } from '../../services/validation.js'
import type { ApiDependencies } from '../server.js'

const keyInput = z.object({ role: z.enum(ROLES), name: z.string().trim().min(1).max(200) }).strict()

export const tenantRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  app.post('/tenants', async (request, reply) => {
    const tenant = await deps.tenants.create(request.principal, request.body)
    return reply.status(201).send(tenant)
  })

  app.post<{ Params: { slug: string } }>('/tenants/:slug/keys', async (request, reply) => {
    const input = parseInput(keyInput, request.body)
    const tenant = await deps.tenants.resolve(request.principal, request.params.slug)
    const key = await deps.auth.createKey(request.principal, tenant.id, input)
    return reply.status(201).send(key)
  })
}
