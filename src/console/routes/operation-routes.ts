import type { FastifyPluginAsync } from 'fastify'
import { AppError } from '../../errors.js'
import { pageContext, seeOther, sendPage } from '../console-context.js'
import type { RouteContext } from '../console-plugin.js'
import { field, formOf } from '../form.js'
import { lastMinutes } from '../health-source.js'
import { healthCharts } from '../views/health-charts.js'
import { auditPage, deadLettersPage, keysPage, overviewPage } from '../views/operation-views.js'
import { HEALTH_MINUTES } from './script-routes.js'

/** The tenant overview, dead letters and replay, API keys, the audit log. */
export const operationRoutes: FastifyPluginAsync<RouteContext> = async (app, { services }) => {
  app.get('/', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const now = new Date()
    const [counts, failures, minutes] = await Promise.all([
      services.scripts.countByStatus(ctx.principal, ctx.tenant),
      services.executions.list(ctx.principal, ctx.tenant, { status: 'failed', limit: 10 }),
      services.health.minutes(ctx.principal, ctx.tenant, lastMinutes(now, HEALTH_MINUTES)),
    ])
    const names = await services.scripts.names(ctx.principal, ctx.tenant, failures.items.map((e) => e.scriptId))
    return sendPage(reply, overviewPage(ctx, counts, failures.items, names, healthCharts(ctx.t, minutes, now, HEALTH_MINUTES)))
  })

  app.get<{ Querystring: { cursor?: string; replayed?: string } }>('/dead-letters', async (request, reply) => {
    const ctx = await pageContext(services, request)
    if (services.events === undefined) throw new AppError('NOT_FOUND', 'events are not enabled on this server')
    const letters = await services.events.deadLetters(ctx.principal, ctx.tenant, request.query.cursor ? { cursor: request.query.cursor } : {})
    const names = await services.scripts.names(ctx.principal, ctx.tenant, letters.items.map((letter) => letter.scriptId))
    return sendPage(reply, deadLettersPage(ctx, letters.items, letters.nextCursor, names, request.query.replayed ? ctx.t.t('deadLetters.replayed') : undefined))
  })

  app.post<{ Params: { id: string } }>('/dead-letters/:id/replay', async (request, reply) => {
    const ctx = await pageContext(services, request)
    if (services.events === undefined) throw new AppError('NOT_FOUND')
    await services.events.replay(ctx.principal, ctx.tenant, request.params.id)
    return seeOther(reply, '/dead-letters?replayed=1')
  })

  app.get('/keys', async (request, reply) => {
    const ctx = await pageContext(services, request)
    return sendPage(reply, keysPage(ctx, await services.auth.listKeys(ctx.principal, ctx.tenant.id)))
  })

  app.post('/keys', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const form = formOf(request.body)
    const name = field(form, 'name')
    if (name === undefined) throw new AppError('VALIDATION_FAILED', 'name: is required', { fields: [{ field: 'name', message: 'is required' }] })
    const key = await services.auth.createKey(ctx.principal, ctx.tenant.id, { role: (field(form, 'role') ?? 'viewer') as never, name })
    // The token is in this answer only (never stored, never in a URL): the page is rendered here, not redirected to.
    return sendPage(reply, keysPage(ctx, await services.auth.listKeys(ctx.principal, ctx.tenant.id), { token: key.token, name: key.name }), 201)
  })

  app.post<{ Params: { id: string } }>('/keys/:id/revoke', async (request, reply) => {
    const ctx = await pageContext(services, request)
    await services.auth.revokeKey(ctx.principal, ctx.tenant.id, request.params.id)
    return seeOther(reply, '/keys')
  })

  app.get<{ Querystring: { action?: string; cursor?: string } }>('/audit', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const action = request.query.action || undefined
    const entries = await services.audit.list(ctx.principal, ctx.tenant, { action, cursor: request.query.cursor, limit: 50 })
    return sendPage(reply, auditPage(ctx, entries.items, entries.nextCursor, action))
  })
}
