import type { FastifyPluginAsync } from 'fastify'
import { auditListQuery } from '../../domain/audit-query.js'
import { requireRole } from '../../services/index.js'
import { LIST_RESPONSE, documentationOnlySchemas, jsonSchema, type RouteSchema } from '../openapi.js'
import { tenantOf, type ApiDependencies } from '../server.js'

/** The tenant's audit trail, for its admins. */
export const auditRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  documentationOnlySchemas(app)

  const list: RouteSchema = { tags: ['audit'], operationId: 'listAudit', summary: 'Audit entries newest first (admin)', querystring: jsonSchema(auditListQuery), response: { 200: LIST_RESPONSE } }
  app.get('/audit', { schema: list }, async (request) => {
    requireRole(request.principal, ['superadmin', 'admin'])
    const tenant = await tenantOf(deps, request)
    return deps.audit.list(request.principal, tenant, request.query)
  })
}
