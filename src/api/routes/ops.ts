import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { documentationOnlySchemas, response } from '../openapi.js'
import { bearerToken } from '../bearer.js'

/** What /readyz asks: is the database reachable, is the runner up, are we draining. */
export interface Readiness {
  check(): Promise<{ ready: boolean; checks: Record<string, boolean> }>
}

/** Prometheus metrics of this process. */
export interface MetricsSource {
  contentType: string
  render(): Promise<string>
}

export const opsRoutes: FastifyPluginAsync<{ readiness: Readiness; metrics: MetricsSource | undefined; metricsToken?: string | undefined }> = async (app, { readiness, metrics, metricsToken }) => {
  documentationOnlySchemas(app)
  const tags = ['ops']
  const open = { tags, security: [] as Array<Record<string, string[]>> }
  if (metrics !== undefined) {
    const expected = metricsToken === undefined ? null : createHash('sha256').update(metricsToken).digest()
    const schema = {
      ...open,
      operationId: 'metrics',
      summary: 'Prometheus metrics of this process (needs Authorization: Bearer <ISOGATE_METRICS_TOKEN> when that is set)',
      response: { 200: { description: 'Prometheus text format', type: 'string' }, 401: response('ISOGATE_METRICS_TOKEN is set and the request did not present it') },
    }
    app.get('/metrics', { schema }, async (request, reply) => {
      if (expected !== null) {
        const presented = bearerToken(request.headers.authorization)
        const digest = createHash('sha256').update(presented ?? '').digest()
        if (presented === undefined || !timingSafeEqual(digest, expected)) {
          return reply.status(401).header('www-authenticate', 'Bearer').send({ error: { code: 'UNAUTHORIZED', message: 'GET /metrics needs Authorization: Bearer <ISOGATE_METRICS_TOKEN>' } })
        }
      }
      return reply.type(metrics.contentType).send(await metrics.render())
    })
  }
  const health = { ...open, operationId: 'healthz', summary: 'Liveness: the process answers', response: { 200: { description: 'Alive', type: 'object', properties: { status: { type: 'string' } } } } }
  app.get('/healthz', { schema: health }, async () => ({ status: 'ok' }))
  const readyBody = { type: 'object', properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } } }
  const ready = {
    ...open,
    operationId: 'readyz',
    summary: 'Readiness: the database answers and the process is not draining',
    response: { 200: { description: 'Ready', ...readyBody }, 503: { description: 'Not ready (checks says why)', ...readyBody } },
  }
  app.get('/readyz', { schema: ready }, async (_request, reply) => {
    const { ready, checks } = await readiness.check()
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })
}
