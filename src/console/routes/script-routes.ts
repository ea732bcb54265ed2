import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Script } from '../../domain/script.js'
import type { Tenant } from '../../domain/tenant.js'
import { AppError } from '../../errors.js'
import { pageContext, seeOther, sendPage } from '../console-context.js'
import type { ConsoleOptions, RouteContext } from '../console-plugin.js'
import { field, formOf } from '../form.js'
import { html } from '../html.js'
import { lastMinutes } from '../health-source.js'
import { formErrorOf, scriptBody, submittedValues } from '../script-input.js'
import { errorBox } from '../views/error-page.js'
import { healthCharts } from '../views/health-charts.js'
import { scriptListPage } from '../views/script-list.js'
import { EMPTY_FORM, formValuesOf, scriptFormPage } from '../views/script-form.js'
import { scriptPage } from '../views/script-page.js'

/** Minutes of history the health charts show. */
export const HEALTH_MINUTES = 60

/**
 * Where an active http script with a literal path answers on the data plane, else null:
 * ISOGATE_PUBLIC_URL when set, else this host at the data port; the tenant in the host name
 * with ISOGATE_BASE_DOMAIN, else as the first path segment.
 */
export function scriptUrl(options: ConsoleOptions, request: FastifyRequest, tenant: Tenant, script: Script): string | null {
  if (script.type !== 'http' || script.http === null || script.status !== 'active' || /[:*]/.test(script.http.path)) return null
  if (options.publicUrl !== undefined) {
    const base = new URL(options.publicUrl)
    if (options.baseDomain !== undefined) base.hostname = `${tenant.slug}.${base.hostname}`
    return `${base.origin}${base.pathname.replace(/\/$/, '')}${options.baseDomain !== undefined ? '' : `/${tenant.slug}`}${script.http.path}`
  }
  if (options.baseDomain !== undefined) return `${request.protocol}://${tenant.slug}.${options.baseDomain}:${options.dataPort}${script.http.path}`
  const host = request.hostname.includes(':') && !request.hostname.startsWith('[') ? `[${request.hostname}]` : request.hostname
  return `${request.protocol}://${host}:${options.dataPort}/${tenant.slug}${script.http.path}`
}

/** Scripts: list, create and edit with the editor, check as you type, status, delete, detail. */
export const scriptRoutes: FastifyPluginAsync<RouteContext> = async (app, { services, options }) => {
  app.get<{ Querystring: { type?: string; status?: string; q?: string; cursor?: string } }>('/scripts', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const filter = { type: request.query.type || undefined, status: request.query.status || undefined, q: request.query.q?.trim() || undefined }
    const result = await services.scripts.list(ctx.principal, ctx.tenant, { ...filter, cursor: request.query.cursor, limit: 50 })
    return sendPage(reply, scriptListPage(ctx, result.items, result.nextCursor, filter))
  })

  app.get('/scripts/new', async (request, reply) => {
    const ctx = await pageContext(services, request)
    if (!ctx.can('scripts.create')) throw new AppError('FORBIDDEN')
    return sendPage(reply, scriptFormPage(ctx, EMPTY_FORM, {}))
  })

  app.post('/scripts', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const form = formOf(request.body)
    try {
      const script = await services.scripts.create(ctx.principal, ctx.tenant, scriptBody(form, 'create'))
      return seeOther(reply, `/scripts/${script.id}?saved=1`)
    } catch (error) {
      if (!(error instanceof AppError) || (error.status ?? 500) >= 500 || error.code === 'FORBIDDEN') throw error
      return sendPage(reply, scriptFormPage(ctx, submittedValues(form), { error: formErrorOf(error) }), error.status ?? 500)
    }
  })

  // The editor's check as you type: compiles without saving; JSON for the editor's lint marks.
  app.post('/scripts/check', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const body = request.body as { source?: unknown } | null
    const source = typeof body?.source === 'string' ? body.source : ''
    try {
      await services.scripts.check(ctx.principal, source)
      return { ok: true }
    } catch (error) {
      if (!(error instanceof AppError) || error.code === 'FORBIDDEN' || (error.status ?? 500) >= 500) throw error
      const details = (error.details ?? {}) as { line?: number; column?: number }
      return reply.send({ ok: false, code: error.code, message: error.message, line: details.line ?? null, column: details.column ?? null })
    }
  })

  // Next runs as the cron expression is typed, in the chosen zone (htmx partial).
  app.get<{ Querystring: Record<string, string> }>('/cron/preview', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const { t } = ctx
    const expression = request.query['cron.expression'] ?? ''
    const timezone = request.query['cron.timezone'] || 'UTC'
    if (services.cron === undefined || expression.trim() === '') return sendPage(reply, html``)
    try {
      const preview = services.cron.preview(ctx.principal, { expression, timezone, count: '5' })
      return sendPage(reply, html`<p class="muted">${t.t('scriptForm.nextRuns', { zone: preview.timezone })}</p><ol id="cron-runs">${preview.runs.map((run) => html`<li>${t.dateTime(run, preview.timezone)}</li>`)}</ol>`)
    } catch (error) {
      if (!(error instanceof AppError)) throw error
      return sendPage(reply, errorBox(t, error.code, error.message))
    }
  })

  app.get<{ Params: { id: string }; Querystring: { saved?: string } }>('/scripts/:id', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const script = await services.scripts.get(ctx.principal, ctx.tenant, request.params.id)
    const now = new Date()
    const [recent, minutes, schedule] = await Promise.all([
      services.executions.list(ctx.principal, ctx.tenant, { scriptId: script.id, limit: 10 }),
      services.health.minutes(ctx.principal, ctx.tenant, { scriptId: script.id, ...lastMinutes(now, HEALTH_MINUTES) }),
      script.type === 'scheduled' && services.cron ? services.cron.schedule(ctx.principal, ctx.tenant, script.id) : null,
    ])
    const nextRuns = schedule && script.cron && services.cron ? services.cron.preview(ctx.principal, { expression: script.cron.expression, timezone: script.cron.timezone, count: '5' }).runs : []
    return sendPage(
      reply,
      scriptPage(ctx, {
        script,
        url: scriptUrl(options, request, ctx.tenant, script),
        schedule,
        nextRuns,
        recent: recent.items,
        health: healthCharts(ctx.t, minutes, now, HEALTH_MINUTES),
        notice: request.query.saved ? ctx.t.t('script.saved', { version: script.version }) : undefined,
      }),
    )
  })

  app.get<{ Params: { id: string } }>('/scripts/:id/edit', async (request, reply) => {
    const ctx = await pageContext(services, request)
    if (!ctx.can('scripts.update')) throw new AppError('FORBIDDEN')
    const script = await services.scripts.get(ctx.principal, ctx.tenant, request.params.id)
    return sendPage(reply, scriptFormPage(ctx, formValuesOf(script), { scriptId: script.id }))
  })

  app.post<{ Params: { id: string } }>('/scripts/:id', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const form = formOf(request.body)
    try {
      await services.scripts.update(ctx.principal, ctx.tenant, request.params.id, scriptBody(form, 'update'))
      return seeOther(reply, `/scripts/${request.params.id}?saved=1`)
    } catch (error) {
      if (!(error instanceof AppError) || (error.status ?? 500) >= 500 || error.code === 'FORBIDDEN' || error.code === 'SCRIPT_NOT_FOUND') throw error
      const current = await services.scripts.get(ctx.principal, ctx.tenant, request.params.id)
      return sendPage(reply, scriptFormPage(ctx, submittedValues(form, current.secrets), { scriptId: current.id, error: formErrorOf(error) }), error.status ?? 500)
    }
  })

  app.post<{ Params: { id: string } }>('/scripts/:id/status', async (request, reply) => {
    const ctx = await pageContext(services, request)
    await services.scripts.update(ctx.principal, ctx.tenant, request.params.id, { status: field(formOf(request.body), 'status') })
    return seeOther(reply, `/scripts/${request.params.id}`)
  })

  app.post<{ Params: { id: string } }>('/scripts/:id/delete', async (request, reply) => {
    const ctx = await pageContext(services, request)
    await services.scripts.delete(ctx.principal, ctx.tenant, request.params.id)
    return seeOther(reply, '/scripts')
  })
}
