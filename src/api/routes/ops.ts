import type { FastifyPluginAsync } from 'fastify'
import { documentationOnlySchemas } from '../openapi.js'

/** What /readyz asks: is the database reachable, is the runner up, are we draining. */
export interface Readiness {
  check(): Promise<{ ready: boolean; checks: Record<string, boolean> }>
}

/** Prometheus metrics of this process. */
export interface MetricsSource {
  contentType: string
  render(): Promise<string>
}

export const opsRoutes: FastifyPluginAsync<{ readiness: Readiness; metrics: MetricsSource | undefined }> = async (app, { readiness, metrics }) => {
  documentationOnlySchemas(app)
  const tags = ['ops']
  const open = { tags, security: [] as Array<Record<string, string[]>> }
  if (metrics !== undefined) {
    const schema = { ...open, operationId: 'metrics', summary: 'Prometheus metrics of this process', response: { 200: { description: 'Prometheus text format', type: 'string' } } }
    app.get('/metrics', { schema }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()))
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
