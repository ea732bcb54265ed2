import type { FastifyPluginAsync } from 'fastify'
import { statsQuery } from '../../domain/execution-rollup.js'
import { requirePermission } from '../../services/index.js'
import type { ScriptStatsService } from '../../services/script-stats.service.js'
import { documentationOnlySchemas, jsonSchema, params, type RouteSchema } from '../openapi.js'
import { tenantOf, type ApiDependencies } from '../server.js'

const counts = {
  runs: { type: 'integer', description: 'Every run, recorded in full or not' },
  completed: { type: 'integer' },
  failed: { type: 'integer' },
  byCode: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Failed runs by error code' },
  http: {
    type: 'object',
    properties: Object.fromEntries(['1xx', '2xx', '3xx', '4xx', '5xx'].map((cls) => [cls, { type: 'integer' }])),
    description: 'Answers by status class',
  },
  ...Object.fromEntries(
    ['meanMs', 'p50Ms', 'p95Ms', 'p99Ms', 'cpuMeanMs', 'cpuP50Ms', 'cpuP95Ms', 'cpuP99Ms'].map((name) => [
      name,
      { type: 'number', nullable: true, description: 'From fixed-bucket histograms (interpolated in the bucket); null without runs' },
    ]),
  ),
  bytesIn: { type: 'integer', description: 'Request body bytes' },
  bytesOut: { type: 'integer', description: 'Response body bytes of answered runs' },
}

const STATS_RESPONSE = {
  description: 'Buckets of `stepSeconds` from `from` to `to` (empty ones included) and their totals',
  type: 'object',
  properties: {
    scriptId: { type: 'string' },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    stepSeconds: { type: 'integer' },
    buckets: { type: 'array', items: { type: 'object', properties: { start: { type: 'string', format: 'date-time' }, ...counts } } },
    totals: { type: 'object', properties: counts },
  },
}

/** `GET /scripts/{id}/stats`: exact per-minute run counts, summed over every gateway process. */
export const scriptStatsRoutes: FastifyPluginAsync<{ deps: ApiDependencies; stats: ScriptStatsService }> = async (app, { deps, stats }) => {
  documentationOnlySchemas(app)
  const schema: RouteSchema = {
    tags: ['executions'],
    summary: "A script's runs over time: counts, failures by code, status classes, p50/p95/p99 duration and CPU, bytes (every run, whatever the sample rate; lags by at most ISOGATE_ROLLUP_FLUSH_MS)",
    params: params(['id']),
    querystring: jsonSchema(statsQuery),
    response: { 200: STATS_RESPONSE },
  }
  app.get<{ Params: { id: string } }>('/scripts/:id/stats', { schema }, async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return stats.stats(request.principal, tenant, request.params.id, request.query)
  })
}
