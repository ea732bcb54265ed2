import type { FastifyPluginAsync } from 'fastify'
import { executionListQuery } from '../../domain/execution-query.js'
import { requirePermission } from '../../services/index.js'
import { LIST_RESPONSE, documentationOnlySchemas, jsonSchema, params, response, type RouteSchema } from '../openapi.js'
import { tenantOf, type ApiDependencies } from '../server.js'

const tags = ['executions']

/** Execution history of the tenant: a filtered keyset list and one record in full. */
export const executionRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  documentationOnlySchemas(app)

  const list: RouteSchema = {
    tags,
    operationId: 'listExecutions',
    summary: 'Executions newest first (without input, output and logs); filters script, status, trigger, time range',
    querystring: jsonSchema(executionListQuery),
    response: { 200: LIST_RESPONSE },
  }
  app.get('/executions', { schema: list }, async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return deps.executions.list(request.principal, tenant, request.query)
  })

  const read: RouteSchema = { tags, operationId: 'getExecution', summary: 'One execution: input, output, logs, error, metrics', params: params(['id']), response: { 200: response('The execution') } }
  app.get<{ Params: { id: string } }>('/executions/:id', { schema: read }, async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return deps.executions.get(request.principal, tenant, request.params.id)
  })
}
