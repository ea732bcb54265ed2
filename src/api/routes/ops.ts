import type { FastifyPluginAsync } from 'fastify'

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
  if (metrics !== undefined) {
    app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()))
  }
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const { ready, checks } = await readiness.check()
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })
}
