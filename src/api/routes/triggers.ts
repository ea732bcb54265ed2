import type { FastifyPluginAsync } from 'fastify'
import { deadLetterListQuery, eventInput, previewQuery, type CronService, type EventService } from '../../triggers/index.js'
import { LIST_RESPONSE, documentationOnlySchemas, jsonSchema, params, response, type RouteSchema } from '../openapi.js'
import { tenantOf, type ApiDependencies } from '../server.js'

export interface TriggerServices {
  cron: CronService
  events: EventService
}

const tags = ['triggers']

/** Cron previews and schedules, event publishing, dead letters. */
export const triggerRoutes: FastifyPluginAsync<{ deps: ApiDependencies; triggers: TriggerServices }> = async (app, { deps, triggers }) => {
  documentationOnlySchemas(app)

  const preview: RouteSchema = {
    tags,
    operationId: 'previewCron',
    summary: 'The next fire times of a cron expression in a time zone',
    querystring: jsonSchema(previewQuery),
    response: { 200: response('{expression, timezone, next: [ISO date-times]}') },
  }
  app.get('/cron/preview', { schema: preview }, async (request) => triggers.cron.preview(request.principal, request.query))

  const schedule: RouteSchema = {
    tags,
    operationId: 'getScriptSchedule',
    summary: "A scheduled script's cron plan: next and last run, last status",
    params: params(['id']),
    response: { 200: response('The schedule') },
  }
  app.get<{ Params: { id: string } }>('/scripts/:id/schedule', { schema: schedule }, async (request) => {
    const tenant = await tenantOf(deps, request)
    return triggers.cron.schedule(request.principal, tenant, request.params.id)
  })

  const publish: RouteSchema = {
    tags,
    operationId: 'publishEvent',
    summary: 'Publish an event: stored with one delivery per matching event script before the answer',
    body: jsonSchema(eventInput),
    response: { 202: response('{id, type, deliveries, duplicate, dropped}') },
  }
  app.post('/events', { schema: publish }, async (request, reply) => {
    const tenant = await tenantOf(deps, request)
    return reply.status(202).send(await triggers.events.publish(request.principal, tenant, request.body))
  })

  const deadLetters: RouteSchema = { tags, operationId: 'listDeadLetters', summary: 'Dead letters, newest first', querystring: jsonSchema(deadLetterListQuery), response: { 200: LIST_RESPONSE } }
  app.get('/dead-letters', { schema: deadLetters }, async (request) => {
    const tenant = await tenantOf(deps, request)
    return triggers.events.deadLetters(request.principal, tenant, request.query)
  })

  const replay: RouteSchema = {
    tags,
    operationId: 'replayDeadLetter',
    summary: 'Deliver a dead letter again (once)',
    params: params(['id']),
    response: { 202: response('{deadLetterId, deliveryId}') },
  }
  app.post<{ Params: { id: string } }>('/dead-letters/:id/replay', { schema: replay }, async (request, reply) => {
    const tenant = await tenantOf(deps, request)
    return reply.status(202).send(await triggers.events.replay(request.principal, tenant, request.params.id))
  })
}
