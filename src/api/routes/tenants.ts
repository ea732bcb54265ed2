import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ROLES, type Principal } from '../../domain/auth.js'
import type { Tenant } from '../../domain/tenant.js'
import { AppError } from '../../errors.js'
import { tenantInput, tenantPatch } from '../../domain/tenant.js'
import { quotaInput } from '../../domain/tenant-quota.js'
import { requireRole } from '../../services/index.js'
import { parseInput } from '../../services/validation.js'
import { LIST_RESPONSE, documentationOnlySchemas, jsonSchema, params, response, type RouteSchema } from '../openapi.js'
import type { ApiDependencies } from '../server.js'

/** An optional expiry: an ISO 8601 date-time with an offset (`2027-01-01T00:00:00Z`). */
export const expiresAt = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z' })
  .transform((text) => new Date(text))
  .nullable()
  .optional()

const keyInput = z.object({ role: z.enum(ROLES), name: z.string().trim().min(1).max(200), expiresAt }).strict()
const tags = ['tenants']
const slug = params(['slug'])

/** A suspended tenant's own keys cannot change its keys (its API is read-only); a superadmin can. */
function writableBy(principal: Principal, tenant: Tenant): Tenant {
  if (principal.role !== 'superadmin' && tenant.status === 'suspended') throw new AppError('TENANT_SUSPENDED', `The tenant ${tenant.slug} is suspended: its API is read-only`)
  return tenant
}

/** Tenants (superadmin), their quotas, and their API keys (the tenant's admins, or a superadmin). */
export const tenantRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  documentationOnlySchemas(app)

  const create: RouteSchema = { tags, operationId: 'createTenant', summary: 'Create a tenant (superadmin)', body: jsonSchema(tenantInput), response: { 201: response('The tenant') } }
  app.post('/tenants', { schema: create }, async (request, reply) => {
    const tenant = await deps.tenants.create(request.principal, request.body)
    return reply.status(201).send(tenant)
  })

  const list: RouteSchema = { tags, operationId: 'listTenants', summary: 'Every tenant, newest first (superadmin); ?status=&limit=&cursor=', response: { 200: LIST_RESPONSE } }
  app.get('/tenants', { schema: list }, async (request) => deps.tenants.list(request.principal, request.query))

  const read: RouteSchema = { tags, operationId: 'getTenant', summary: 'A tenant (a superadmin any, a tenant key its own)', params: slug, response: { 200: response('The tenant') } }
  app.get<{ Params: { slug: string } }>('/tenants/:slug', { schema: read }, async (request) => deps.tenants.get(request.principal, request.params.slug))

  const update: RouteSchema = { tags, operationId: 'updateTenant', summary: 'Rename, suspend or resume a tenant (superadmin)', params: slug, body: jsonSchema(tenantPatch), response: { 200: response('The tenant after the change') } }
  app.patch<{ Params: { slug: string } }>('/tenants/:slug', { schema: update }, async (request) => deps.tenants.update(request.principal, request.params.slug, request.body))

  const suspend: RouteSchema = { tags, operationId: 'suspendTenant', summary: 'Suspend: the data plane answers 403 TENANT_SUSPENDED, cron and events wait, the API is read-only', params: slug, response: { 200: response('The tenant') } }
  app.post<{ Params: { slug: string } }>('/tenants/:slug/suspend', { schema: suspend }, async (request) => deps.tenants.update(request.principal, request.params.slug, { status: 'suspended' }))

  const resume: RouteSchema = { tags, operationId: 'resumeTenant', summary: 'Resume a suspended tenant (its cron schedules plan from now)', params: slug, response: { 200: response('The tenant') } }
  app.post<{ Params: { slug: string } }>('/tenants/:slug/resume', { schema: resume }, async (request) => deps.tenants.update(request.principal, request.params.slug, { status: 'active' }))

  const remove: RouteSchema = { tags, operationId: 'deleteTenant', summary: 'Delete a tenant and every row it owns (superadmin); the audit trail stays', params: slug, response: { 204: { description: 'Deleted', type: 'null' } } }
  app.delete<{ Params: { slug: string } }>('/tenants/:slug', { schema: remove }, async (request, reply) => {
    await deps.tenants.delete(request.principal, request.params.slug)
    return reply.status(204).send()
  })

  const readQuota: RouteSchema = { tags, operationId: 'getTenantQuota', summary: "The tenant's quota in force, and the fields set for it", params: slug, response: { 200: response('{quota, overrides}') } }
  app.get<{ Params: { slug: string } }>('/tenants/:slug/quota', { schema: readQuota }, async (request) => {
    const tenant = await deps.tenants.resolve(request.principal, request.params.slug)
    return deps.quotas.get(request.principal, tenant)
  })

  const putQuota: RouteSchema = {
    tags,
    operationId: 'setTenantQuota',
    summary: "Replace the tenant's quota (superadmin); fields left out are the defaults; below what its scripts use: 409 QUOTA_BELOW_USAGE",
    params: slug,
    body: jsonSchema(quotaInput),
    response: { 200: response('{quota, overrides}') },
  }
  app.put<{ Params: { slug: string } }>('/tenants/:slug/quota', { schema: putQuota }, async (request) => {
    requireRole(request.principal, ['superadmin'])
    const tenant = await deps.tenants.resolve(request.principal, request.params.slug)
    return deps.quotas.put(request.principal, tenant, request.body)
  })

  const createKey: RouteSchema = {
    tags,
    operationId: 'createApiKey',
    summary: 'Create an API key (optional expiresAt); the token is in this answer only',
    params: params(['slug']),
    body: jsonSchema(keyInput),
    response: { 201: response('{id, token, role, name, expiresAt}') },
  }
  app.post<{ Params: { slug: string } }>('/tenants/:slug/keys', { schema: createKey }, async (request, reply) => {
    requireRole(request.principal, ['superadmin', 'admin'])
    const input = parseInput(keyInput, request.body)
    const tenant = writableBy(request.principal, await deps.tenants.resolve(request.principal, request.params.slug))
    const key = await deps.auth.createKey(request.principal, tenant.id, input)
    return reply.status(201).send(key)
  })

  const listKeys: RouteSchema = { tags, operationId: 'listApiKeys', summary: "The tenant's keys, revoked ones too (never a token)", params: params(['slug']), response: { 200: response('{items}') } }
  app.get<{ Params: { slug: string } }>('/tenants/:slug/keys', { schema: listKeys }, async (request) => {
    requireRole(request.principal, ['superadmin', 'admin'])
    const tenant = await deps.tenants.resolve(request.principal, request.params.slug)
    return { items: await deps.auth.listKeys(request.principal, tenant.id), nextCursor: null }
  })

  const revoke: RouteSchema = { tags, operationId: 'revokeApiKey', summary: 'Revoke a key; it answers 401 from now on', params: params(['slug', 'id']), response: { 204: { description: 'Revoked', type: 'null' } } }
  app.delete<{ Params: { slug: string; id: string } }>('/tenants/:slug/keys/:id', { schema: revoke }, async (request, reply) => {
    requireRole(request.principal, ['superadmin', 'admin'])
    const tenant = writableBy(request.principal, await deps.tenants.resolve(request.principal, request.params.slug))
    await deps.auth.revokeKey(request.principal, tenant.id, request.params.id)
    return reply.status(204).send()
  })
}
