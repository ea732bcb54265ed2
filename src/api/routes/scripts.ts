import type { FastifyPluginAsync } from 'fastify'
import { runInput, runQuery } from '../../domain/execution-query.js'
import { rollbackInput, scriptInput, scriptListQuery, scriptPatch, versionListQuery } from '../../domain/script.js'
import { requirePermission } from '../../services/index.js'
import { parseInput } from '../../services/validation.js'
import { LIST_RESPONSE, documentationOnlySchemas, jsonSchema, params, response, type RouteSchema } from '../openapi.js'
import { tenantOf, type ApiDependencies } from '../server.js'
import { acceptModules, isModuleUpload, moduleBody } from '../module-upload.js'

const tags = ['scripts']
const id = params(['id'])

/** Scripts, their versions and manual runs. The permission is checked here and again in the service. */
export const scriptRoutes: FastifyPluginAsync<{ deps: ApiDependencies }> = async (app, { deps }) => {
  documentationOnlySchemas(app)
  // A module upload carries the bundle and possibly an inline source map (base64, about as large again).
  acceptModules(app, deps.scripts.maxBundleBytes * 3 + 64 * 1024)

  const create: RouteSchema = { tags, operationId: 'createScript', summary: 'Create a script (version 1); an application/javascript body is the source, with name, type, path, methods, cron, events in the query', body: jsonSchema(scriptInput), response: { 201: response('The script with its source') } }
  app.post('/scripts', { schema: create }, async (request, reply) => {
    requirePermission(request.principal, 'scripts.create')
    const tenant = await tenantOf(deps, request)
    const module = isModuleUpload(request)
    return reply.status(201).send(await deps.scripts.create(request.principal, tenant, module ? moduleBody(request) : request.body, { module }))
  })

  const list: RouteSchema = { tags, operationId: 'listScripts', summary: 'List scripts, newest first', querystring: jsonSchema(scriptListQuery), response: { 200: LIST_RESPONSE } }
  app.get('/scripts', { schema: list }, async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return deps.scripts.list(request.principal, tenant, request.query)
  })

  const read: RouteSchema = { tags, operationId: 'getScript', summary: 'A script with its current source', params: id, response: { 200: response('The script') } }
  app.get<{ Params: { id: string } }>('/scripts/:id', { schema: read }, async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return deps.scripts.get(request.principal, tenant, request.params.id)
  })

  const update: RouteSchema = {
    tags,
    operationId: 'updateScript',
    summary: 'Change a script: metadata, status, source (a new source makes a new version)',
    params: id,
    body: jsonSchema(scriptPatch),
    response: { 200: response('The script after the change') },
  }
  app.patch<{ Params: { id: string } }>('/scripts/:id', { schema: update }, async (request) => {
    requirePermission(request.principal, 'scripts.update')
    const tenant = await tenantOf(deps, request)
    const module = isModuleUpload(request)
    return deps.scripts.update(request.principal, tenant, request.params.id, module ? moduleBody(request) : request.body, { module })
  })

  const remove: RouteSchema = { tags, operationId: 'deleteScript', summary: 'Delete a script, its versions and routes (admin)', params: id, response: { 204: { description: 'Deleted', type: 'null' } } }
  app.delete<{ Params: { id: string } }>('/scripts/:id', { schema: remove }, async (request, reply) => {
    requirePermission(request.principal, 'scripts.delete')
    const tenant = await tenantOf(deps, request)
    await deps.scripts.delete(request.principal, tenant, request.params.id)
    return reply.status(204).send()
  })

  const versions: RouteSchema = { tags, operationId: 'listScriptVersions', summary: 'Versions, newest first (without source)', params: id, querystring: jsonSchema(versionListQuery), response: { 200: LIST_RESPONSE } }
  app.get<{ Params: { id: string } }>('/scripts/:id/versions', { schema: versions }, async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return deps.scripts.versions(request.principal, tenant, request.params.id, request.query)
  })

  const version: RouteSchema = { tags, operationId: 'getScriptVersion', summary: 'One version with its source', params: params(['id', 'version']), response: { 200: response('The version') } }
  app.get<{ Params: { id: string; version: string } }>('/scripts/:id/versions/:version', { schema: version }, async (request) => {
    requirePermission(request.principal, 'scripts.read')
    const tenant = await tenantOf(deps, request)
    return deps.scripts.version(request.principal, tenant, request.params.id, request.params.version)
  })

  const rollback: RouteSchema = {
    tags,
    operationId: 'rollbackScript',
    summary: 'Make a new version with the source of an earlier one',
    params: id,
    body: jsonSchema(rollbackInput),
    response: { 200: response('The script at its new version') },
  }
  app.post<{ Params: { id: string } }>('/scripts/:id/rollback', { schema: rollback }, async (request) => {
    requirePermission(request.principal, 'scripts.update')
    const tenant = await tenantOf(deps, request)
    return deps.scripts.rollback(request.principal, tenant, request.params.id, request.body)
  })

  const run: RouteSchema = {
    tags: ['executions'],
    operationId: 'runScript',
    summary: "Run the script's run(input) handler now; ?async=true answers 202 with the execution id",
    params: id,
    querystring: jsonSchema(runQuery),
    body: jsonSchema(runInput),
    response: { 200: response('The finished execution'), 202: response('{id, status: pending}; read it at /executions/{id}') },
  }
  app.post<{ Params: { id: string } }>('/scripts/:id/run', { schema: run }, async (request, reply) => {
    requirePermission(request.principal, 'scripts.execute')
    const { async } = parseInput(runQuery, request.query ?? {})
    const tenant = await tenantOf(deps, request)
    const result = await deps.executions.run(request.principal, tenant, request.params.id, request.body, { async })
    if (!async) return result
    return reply.status(202).header('location', `/api/v1/executions/${result.id}`).send(result)
  })
}
