import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
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
  if (metrics !== undefined) {
    const expected = metricsToken === undefined ? null : createHash('sha256').update(metricsToken).digest()
    app.get('/metrics', async (request, reply) => {
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
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const { ready, checks } = await readiness.check()
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })
}
