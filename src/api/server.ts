import websocket from '@fastify/websocket'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Principal } from '../domain/auth.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import type { AuditService, AuthService, ExecutionService, ScriptService, TenantService } from '../services/index.js'
import { consolePlugin, SessionAuth, type ConsoleOptions } from '../console/index.js'
import { clientErrorHandler, errorHandler, notFoundHandler } from './error-handler.js'
import { checkInput } from './input-guard.js'
import { MethodTable } from './method-table.js'
import type { QuotaService } from '../services/quota.service.js'
import { bearerToken } from './bearer.js'
import { registerOpenApi } from './openapi.js'
import { auditRoutes } from './routes/audit.js'
import { executionRoutes } from './routes/executions.js'
import { keyRoutes } from './routes/keys.js'
import { opsRoutes, type MetricsSource, type Readiness } from './routes/ops.js'
import { scriptRoutes } from './routes/scripts.js'
import { scriptStatsRoutes } from './routes/script-stats.js'
import type { ScriptStatsService } from '../services/script-stats.service.js'
import { tenantRoutes } from './routes/tenants.js'
import { triggerRoutes, type TriggerServices } from './routes/triggers.js'
import { liveRoutes, type LiveServices } from './routes/live.js'

export interface ApiDependencies {
  auth: AuthService
  tenants: TenantService
  scripts: ScriptService
  executions: ExecutionService
  audit: AuditService
  quotas: QuotaService
  readiness: Readiness
  metrics?: MetricsSource
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined
  /** Cron previews, events, dead letters (absent in an API started without triggers). */
  triggers?: TriggerServices
  /** Script stats from the run rollups (absent in an API started without them). */
  stats?: ScriptStatsService
  /** The live tail and ad-hoc execute (absent in an API started without them). */
  live?: LiveServices
  logger: Logger
  /** The web console at / (absent: no console, GET / is 404). */
  console?: ConsoleOptions
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
    /** Set when a console session signed the request in (the tenant it picked, or null); else undefined. */
    sessionTenant: string | null | undefined
  }
  interface FastifyContextConfig {
    /** The route also takes the web console's session (cookie, same origin) instead of a key: the live tail. */
    session?: boolean
  }
}

/**
 * Resolves the tenant a request acts on (X-Tenant for a superadmin, the key's own otherwise). A
 * suspended tenant is read-only: anything but GET and HEAD answers 403 TENANT_SUSPENDED.
 */
export async function tenantOf(deps: ApiDependencies, request: FastifyRequest): Promise<Tenant> {
  const header = request.headers['x-tenant']
  // A console session acts on the tenant it picked, as its pages do.
  const named = request.sessionTenant !== undefined ? (request.sessionTenant ?? undefined) : typeof header === 'string' && header !== '' ? header : undefined
  const tenant = await deps.tenants.resolve(request.principal, named)
  if (tenant.status === 'suspended' && request.method !== 'GET' && request.method !== 'HEAD') {
    throw new AppError('TENANT_SUSPENDED', `The tenant ${tenant.slug} is suspended: its API is read-only`)
  }
  return tenant
}


/**
 * The control plane: JSON over HTTP under /api/v1 with Bearer API keys, and the ops endpoints.
 *
 * @example
 * const api = createApiServer(deps)
 * await api.listen({ host: '127.0.0.1', port: 8081 })
 */
export function createApiServer(deps: ApiDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 2 * 1024 * 1024,
    clientErrorHandler,
    // A bad percent-escape or an over-long path parameter, refused by the router before any hook.
    frameworkErrors: (error, request, reply) => void errorHandler(error, request, reply),
  })
  app.decorateRequest('principal', null as unknown as Principal)
  app.decorateRequest('sessionTenant', undefined)
  const sessions = deps.console ? new SessionAuth({ db: deps.console.db, idleMinutes: deps.console.idleMinutes }) : undefined
  const methods = new MethodTable(app)
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler(methods))
  // NUL, lone surrogates and deep nesting are 400 naming the field before any route sees them.
  app.addHook('preValidation', async (request) => {
    checkInput({ params: request.params, query: request.query, tenant: request.headers['x-tenant'], body: request.body })
  })
  registerOpenApi(app)
  // WebSockets (live tail, duplex execute): frames are JSON commands, none larger than a bundle.
  app.register(websocket, { options: { maxPayload: 2 * 1024 * 1024 } })
  app.register(opsRoutes, { readiness: deps.readiness, metrics: deps.metrics, metricsToken: deps.metricsToken })
  if (deps.console) app.register(consolePlugin, deps.console)
  app.register(
    async (api) => {
      api.addHook('onRequest', async (request) => {
        const token = bearerToken(request.headers.authorization)
        // A route a browser cannot send a key to (a WebSocket) may take the console's session instead.
        if (token === undefined && sessions !== undefined && request.routeOptions.config.session === true) {
          const identity = await sessions.authenticate(request)
          if (identity !== null) {
            request.principal = identity.principal
            request.sessionTenant = identity.tenantSlug
            return
          }
        }
        request.principal = await deps.auth.authenticate(token)
      })
      api.register(tenantRoutes, { deps })
      api.register(keyRoutes, { deps })
      api.register(scriptRoutes, { deps })
      api.register(executionRoutes, { deps })
      api.register(auditRoutes, { deps })
      if (deps.triggers) api.register(triggerRoutes, { deps, triggers: deps.triggers })
      if (deps.stats) api.register(scriptStatsRoutes, { deps, stats: deps.stats })
      if (deps.live) api.register(liveRoutes, { deps, live: deps.live })
    },
    { prefix: '/api/v1' },
  )
  return app
}
