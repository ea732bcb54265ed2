import type { FastifyPluginAsync } from 'fastify'
import { requirePermission } from '../../services/index.js'
import { tenantOf, type ApiDependencies } from '../server.js'

export const scriptRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  app.post('/scripts', async (request, reply) => {
    requirePermission(request.principal, 'scripts.create')
    const tenant = await tenantOf(deps, request)
    const script = await deps.scripts.create(request.principal, tenant, request.body)
    return reply.status(201).send(script)
  })

  app.get<{ Params: { id: string } }>('/scripts/:id', async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return deps.scripts.get(request.principal, tenant, request.params.id)
  })
}
