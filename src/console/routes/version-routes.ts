import type { FastifyPluginAsync } from 'fastify'
import { pageContext, seeOther, sendPage } from '../console-context.js'
import type { RouteContext } from '../console-plugin.js'
import { field, formOf } from '../form.js'
import { rollbackPage, versionsPage } from '../views/version-views.js'

/** Versions: the list, a side-by-side diff of any two, rollback after a confirmation showing its diff. */
export const versionRoutes: FastifyPluginAsync<RouteContext> = async (app, { services }) => {
  app.get<{ Params: { id: string }; Querystring: { a?: string; b?: string; rolledBack?: string } }>('/scripts/:id/versions', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const { id } = request.params
    const script = await services.scripts.get(ctx.principal, ctx.tenant, id)
    const versions = await services.scripts.versions(ctx.principal, ctx.tenant, id, { limit: 200 })
    let diff = null
    const { a, b } = request.query
    if (a !== undefined && b !== undefined) {
      const [left, right] = await Promise.all([services.scripts.version(ctx.principal, ctx.tenant, id, a), services.scripts.version(ctx.principal, ctx.tenant, id, b)])
      diff = { a: left, b: right }
    }
    const notice = request.query.rolledBack ? ctx.t.t('versions.rolledBack', { version: script.version, from: request.query.rolledBack }) : undefined
    return sendPage(reply, versionsPage(ctx, script, versions.items, diff, notice))
  })

  app.get<{ Params: { id: string }; Querystring: { version?: string } }>('/scripts/:id/rollback', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const { id } = request.params
    const script = await services.scripts.get(ctx.principal, ctx.tenant, id)
    const [current, target] = await Promise.all([
      services.scripts.version(ctx.principal, ctx.tenant, id, String(script.version)),
      services.scripts.version(ctx.principal, ctx.tenant, id, request.query.version ?? ''),
    ])
    return sendPage(reply, rollbackPage(ctx, script, current, target))
  })

  app.post<{ Params: { id: string } }>('/scripts/:id/rollback', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const version = Number(field(formOf(request.body), 'version'))
    const before = await services.scripts.get(ctx.principal, ctx.tenant, request.params.id)
    const after = await services.scripts.rollback(ctx.principal, ctx.tenant, request.params.id, { version })
    return seeOther(reply, `/scripts/${after.id}/versions?a=${before.version}&b=${after.version}&rolledBack=${version}`)
  })
}
