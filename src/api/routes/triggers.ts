import type { FastifyPluginAsync } from 'fastify'
import type { CronService, EventService } from '../../triggers/index.js'
import { tenantOf, type ApiDependencies } from '../server.js'

export interface TriggerServices {
  cron: CronService
  events: EventService
}

/** Cron previews and schedules, event publishing, dead letters. */
export const triggerRoutes: FastifyPluginAsync<{ deps: ApiDependencies; triggers: TriggerServices }> = async (app, { deps, triggers }) => {
  app.get('/cron/preview', async (request) => triggers.cron.preview(request.principal, request.query))

  app.get<{ Params: { id: string } }>('/scripts/:id/schedule', async (request) => {
    const tenant = await tenantOf(deps, request)
    return triggers.cron.schedule(request.principal, tenant, request.params.id)
  })

  app.post('/events', async (request, reply) => {
    const tenant = await tenantOf(deps, request)
    return reply.status(202).send(await triggers.events.publish(request.principal, tenant, request.body))
  })

  app.get('/dead-letters', async (request) => {
    const tenant = await tenantOf(deps, request)
    return triggers.events.deadLetters(request.principal, tenant, request.query)
  })

  app.post<{ Params: { id: string } }>('/dead-letters/:id/replay', async (request, reply) => {
    const tenant = await tenantOf(deps, request)
    return reply.status(202).send(await triggers.events.replay(request.principal, tenant, request.params.id))
  })
}
