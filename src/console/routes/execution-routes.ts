import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ExecutionRecord } from '../../domain/execution.js'
import { AppError } from '../../errors.js'
import { pageContext, seeOther, sendPage, type PageContext } from '../console-context.js'
import type { RouteContext } from '../console-plugin.js'
import type { ConsoleServices } from '../console-services.js'
import { formOf } from '../form.js'
import { errorBox } from '../views/error-page.js'
import { executionListBody, executionListPage, executionPage, executionSummaryBox, type ExecutionFilter, type LiveTailView } from '../views/execution-views.js'

type ListQuery = { scriptId?: string; status?: string; trigger?: string; cursor?: string; live?: string }

/** Finished statuses as the tail's outcome filter; a status no finished run has matches no run of the tail. */
const OUTCOME: Record<string, 'ok' | 'error' | null> = { completed: 'ok', failed: 'error', timeout: 'error', cancelled: 'error', pending: null, running: null, skipped: null }

async function listBody(services: ConsoleServices, ctx: PageContext, query: ListQuery) {
  const filter: ExecutionFilter = { scriptId: query.scriptId || undefined, status: query.status || undefined, trigger: query.trigger || undefined }
  const live = query.live === '1'
  const [page, scripts] = await Promise.all([
    services.executions.list(ctx.principal, ctx.tenant, { ...filter, cursor: live ? undefined : query.cursor, limit: live ? 25 : 50 }),
    services.scripts.list(ctx.principal, ctx.tenant, { limit: 200 }),
  ])
  const names = await services.scripts.names(ctx.principal, ctx.tenant, page.items.map((e) => e.scriptId))
  return { body: executionListBody(ctx.t, page.items, page.nextCursor, filter, names, live), filter, live, scripts: scripts.items }
}

/** The live tail's URL for the list's filters (the tail names a script by name), or null when no finished run can match. */
async function tailOf(services: ConsoleServices, ctx: PageContext, filter: ExecutionFilter): Promise<LiveTailView | null> {
  const query = new URLSearchParams()
  if (filter.scriptId !== undefined) {
    const name = (await services.scripts.names(ctx.principal, ctx.tenant, [filter.scriptId])).get(filter.scriptId)
    if (name === undefined) return null
    query.set('script', name)
  }
  if (filter.status !== undefined) {
    const outcome = OUTCOME[filter.status]
    if (outcome === undefined || outcome === null) return null
    query.set('status', outcome)
  }
  return { tailUrl: `/api/v1/tail${query.size > 0 ? `?${query.toString()}` : ''}`, trigger: filter.trigger }
}

const isHtmx = (request: FastifyRequest) => request.headers['hx-request'] === 'true'

/** Run now, the execution history (with a live view from the live tail) and one execution in full. */
export const executionRoutes: FastifyPluginAsync<RouteContext> = async (app, { services }) => {
  app.post<{ Params: { id: string } }>('/scripts/:id/run', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const text = formOf(request.body).get('input')?.trim() || 'null'
    let input: unknown
    try {
      input = JSON.parse(text)
    } catch (error) {
      const message = ctx.t.t('script.inputNotJson', { reason: (error as Error).message })
      // htmx swaps only 2xx answers: a partial's error is answered 200 and says what failed.
      if (isHtmx(request)) return sendPage(reply, errorBox(ctx.t, 'VALIDATION_FAILED', message))
      throw new AppError('VALIDATION_FAILED', message)
    }
    try {
      const record = (await services.executions.run(ctx.principal, ctx.tenant, request.params.id, { input }, { async: false })) as ExecutionRecord
      if (isHtmx(request)) return sendPage(reply, executionSummaryBox(ctx.t, record))
      return seeOther(reply, `/executions/${record.id}`)
    } catch (error) {
      if (!(error instanceof AppError) || !isHtmx(request) || (error.status ?? 500) >= 500) throw error
      return sendPage(reply, errorBox(ctx.t, error.code, error.message))
    }
  })

  app.get<{ Querystring: ListQuery }>('/executions', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const { body, filter, live, scripts } = await listBody(services, ctx, request.query)
    return sendPage(reply, executionListPage(ctx, body, filter, live ? await tailOf(services, ctx, filter) : null, scripts))
  })

  app.get<{ Params: { id: string } }>('/executions/:id', async (request, reply) => {
    const ctx = await pageContext(services, request)
    const record = await services.executions.get(ctx.principal, ctx.tenant, request.params.id)
    let name: string | null = null
    let source: string | null = null
    try {
      const script = await services.scripts.get(ctx.principal, ctx.tenant, record.scriptId)
      name = script.name
      source = (await services.scripts.version(ctx.principal, ctx.tenant, record.scriptId, String(record.scriptVersion))).source
    } catch (error) {
      // The script (or that version) was deleted since: the record stays readable without its source.
      if (!(error instanceof AppError) || (error.code !== 'SCRIPT_NOT_FOUND' && error.code !== 'VERSION_NOT_FOUND')) throw error
    }
    return sendPage(reply, executionPage(ctx, record, name, source))
  })
}
