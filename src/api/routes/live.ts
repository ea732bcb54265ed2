import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type {} from '@fastify/websocket'
import type { WebSocket } from 'ws'
import type { Database } from '../../db/database.js'
import type { ScriptNameRepository } from '../../db/script-name.repository.js'
import { executeFrame, executeInput } from '../../domain/ad-hoc.js'
import type { Principal } from '../../domain/auth.js'
import { tailQuery } from '../../domain/tail-query.js'
import type { Tenant } from '../../domain/tenant.js'
import { AppError } from '../../errors.js'
import type { AdHocExecutionService } from '../../services/ad-hoc-execution.service.js'
import { requirePermission } from '../../services/index.js'
import type { LiveTail, TailFilter } from '../../services/live-tail.js'
import { parseInput } from '../../services/validation.js'
import { checkInput } from '../input-guard.js'
import { documentationOnlySchemas, jsonSchema, response, type RouteSchema } from '../openapi.js'
import { tenantOf, type ApiDependencies } from '../server.js'

/** What the live routes need besides the API's services. */
export interface LiveServices {
  db: Database
  tail: LiveTail
  adHoc: AdHocExecutionService
  names: ScriptNameRepository
  /** Where scripts are served, for the CLI to print a deployed script's URL. */
  dataPlane: { port: number; baseDomain?: string | undefined }
}

/** Ad-hoc runs one WebSocket may have in flight; more frames are answered EXECUTE_BUSY. */
const MAX_IN_FLIGHT = 16

interface LiveRequest {
  tenant: Tenant
  filter: TailFilter
}

/**
 * WebSocket routes of the control plane: the live tail (`GET /tail`) and ad-hoc execute
 * (`POST /execute`, and its duplex WebSocket on `GET /execute`). The key, the permission, the
 * tenant and the filters are checked before the upgrade, so a refusal is a plain HTTP error.
 */
export const liveRoutes: FastifyPluginAsync<{ deps: ApiDependencies; live: LiveServices }> = async (app, { deps, live }) => {
  documentationOnlySchemas(app)
  const prepared = new WeakMap<FastifyRequest, LiveRequest>()

  const whoami: RouteSchema = { tags: ['tenants'], summary: 'The calling key (id, name, expiry), its role, its tenant and where scripts are served', response: { 200: response('{keyId, key, role, tenant, dataPlane}') } }
  app.get('/whoami', { schema: whoami }, async (request) => {
    const header = request.headers['x-tenant']
    const named = typeof header === 'string' && header !== ''
    const tenant = request.principal.tenantId !== null || named ? await tenantOf(deps, request) : null
    const host = (request.headers.host ?? '127.0.0.1').replace(/:\d+$/, '')
    const { port, baseDomain } = live.dataPlane
    const url = tenant === null ? null : baseDomain === undefined ? `http://${host}:${port}/${tenant.slug}` : `http://${tenant.slug}.${baseDomain}`
    const { key } = await deps.auth.whoami(request.principal)
    return { keyId: request.principal.keyId, key, role: request.principal.role, tenant: tenant?.slug ?? null, dataPlane: { url } }
  })

  const tail: RouteSchema = {
    tags: ['executions'],
    summary: 'Live tail (WebSocket): every finished run of the tenant as JSON, filtered on the server; {"type":"dropped","dropped":N} when a slow client missed some. Takes a key, or the web console\'s session cookie from the console\'s own origin',
    querystring: jsonSchema(tailQuery),
  }
  app.route({
    method: 'GET',
    url: '/tail',
    schema: tail,
    // The web console's live view opens it from the browser with its session (same origin only).
    config: { session: true },
    handler: notUpgraded,
    preHandler: async (request) => {
      requirePermission(request.principal, 'scripts.read')
      const query = parseInput(tailQuery, request.query ?? {})
      const tenant = await tenantOf(deps, request)
      let scriptId: string | undefined
      if (query.script !== undefined) {
        const script = query.script
        const id = await live.db.tenant(tenant.id, (tx) => live.names.idOf(tx, tenant.id, script))
        if (id === null) throw new AppError('SCRIPT_NOT_FOUND', `No script named ${script}`, { field: 'script' })
        scriptId = id
      }
      prepared.set(request, { tenant, filter: { scriptId, outcome: query.status, method: query.method, search: query.search } })
    },
    wsHandler: (socket, request) => {
    const { tenant, filter } = prepared.get(request) as LiveRequest
    let close: (() => void) | null = null
    let closed = false
    socket.on('close', () => {
      closed = true
      close?.()
    })
    live.tail.open(tenant.id, filter, socket).then(
      (stop) => {
        if (closed) stop()
        else {
          close = stop
          socket.send(JSON.stringify({ type: 'ready' }))
        }
      },
      (error: unknown) => {
        request.log.error({ err: error }, 'live tail could not start')
        socket.close(1011, 'the tail could not start')
      },
    )
  },
  })

  const execute: RouteSchema = {
    tags: ['executions'],
    summary: 'Run code once in a fresh context of the tenant\'s isolate (permission code.execute; recorded as a manual run, audited); GET upgrades to a WebSocket of {id, code, ...} frames',
    body: jsonSchema(executeInput),
    response: { 200: response('{id, value, console, timeMs, error}') },
  }
  app.post('/execute', { schema: execute }, async (request) => {
    requirePermission(request.principal, 'code.execute')
    const tenant = await tenantOf(deps, request)
    return live.adHoc.execute(request.principal, tenant, request.body)
  })

  app.route({
    method: 'GET',
    url: '/execute',
    schema: { hide: true } as RouteSchema,
    handler: notUpgraded,
    preHandler: async (request) => {
      requirePermission(request.principal, 'code.execute')
      prepared.set(request, { tenant: await tenantOf(deps, request), filter: {} })
    },
    wsHandler: (socket, request) => {
      const { tenant } = prepared.get(request) as LiveRequest
      duplexExecute(socket, request.principal, tenant, live.adHoc, request)
    },
  })
}

/** A plain GET of a WebSocket route: the usual JSON error, not the plugin's empty 404. */
async function notUpgraded(): Promise<never> {
  throw new AppError('VALIDATION_FAILED', 'This endpoint is a WebSocket: connect with Upgrade: websocket')
}

/** Each `{id, code, ...}` frame runs; its answer (or error) carries the same id. Frames run concurrently. */
function duplexExecute(socket: WebSocket, principal: Principal, tenant: Tenant, adHoc: AdHocExecutionService, request: FastifyRequest): void {
  let inFlight = 0
  const answer = (body: unknown): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(body))
  }
  socket.on('message', (data, isBinary) => {
    let frame: unknown
    try {
      frame = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : String(data))
    } catch (error) {
      answer({ id: null, error: { code: 'VALIDATION_FAILED', message: `a frame must be JSON: ${(error as Error).message}` } })
      return
    }
    const framed = executeFrame.safeParse(frame)
    if (!framed.success) {
      answer({ id: null, error: { code: 'VALIDATION_FAILED', message: 'a frame is {id, code, input?, globals?, call?, limits?}' } })
      return
    }
    const { id, ...body } = framed.data
    if (inFlight >= MAX_IN_FLIGHT) {
      answer({ id, error: { code: 'EXECUTE_BUSY', message: `at most ${MAX_IN_FLIGHT} runs in flight on one connection` } })
      return
    }
    inFlight++
    // A frame gets the guard an HTTP body gets (NUL, lone surrogates, deep nesting): 400-style answers, never a database error.
    Promise.resolve()
      .then(() => checkInput({ body }))
      .then(() => adHoc.execute(principal, tenant, body))
      .then(
        (result) => answer({ ...result, executionId: result.id, id }),
        (error: unknown) => {
          if (error instanceof AppError) answer({ id, error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) } })
          else {
            request.log.error({ err: error }, 'ad-hoc run over WebSocket failed')
            answer({ id, error: { code: 'INTERNAL_ERROR', message: 'Internal error' } })
          }
        },
      )
      .finally(() => {
        inFlight--
      })
  })
}
