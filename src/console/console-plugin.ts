import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import { assetRoutes } from './assets.js'
import { RedirectTo, sendPage } from './console-context.js'
import type { ConsoleServices } from './console-services.js'
import { parseCookies } from './cookies.js'
import { acceptForms, formOf } from './form.js'
import { isLocale, negotiateLocale, translator } from './i18n/translator.js'
import { executionRoutes } from './routes/execution-routes.js'
import { operationRoutes } from './routes/operation-routes.js'
import { scriptRoutes } from './routes/script-routes.js'
import { sessionRoutes } from './routes/session-routes.js'
import { versionRoutes } from './routes/version-routes.js'
import { csrfMatches, SessionStore } from './session-store.js'
import { errorPage } from './views/error-page.js'

export interface ConsoleOptions extends ConsoleServices {
  /** A session unused this long ends (ISOGATE_CONSOLE_IDLE_MINUTES). */
  idleMinutes: number
  /** Base URL of the data plane for links to http scripts; else this host at `dataPort`. */
  publicUrl?: string | undefined
  dataPort: number
  /** With host routing (ISOGATE_BASE_DOMAIN) a script's URL is `{tenant}.{baseDomain}`; else `/{tenant}/…`. */
  baseDomain?: string | undefined
  /** Built browser assets (dist/console); see src/console/assets-build.mjs. */
  assetsDir?: string
}

export const SESSION_COOKIE = 'ig_session'
export const LANGUAGE_COOKIE = 'ig_lang'
/** Sign-in's CSRF token before there is a session: double-submit (cookie and form field). */
export const PRE_SESSION_COOKIE = 'ig_pre'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * The web console: server-rendered pages (htmx for partial updates) on the control-plane port,
 * signed in with an API key. Every action calls the same service, with the same principal, as
 * the REST API would for that key; the console adds no permission of its own.
 *
 * @example
 * app.register(consolePlugin, { ...services, idleMinutes: 30, dataPort: 8080 })
 */
export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  if (!Number.isInteger(options.idleMinutes) || options.idleMinutes < 1) throw new RangeError('options.idleMinutes must be a positive integer')
  const sessions = new SessionStore({ db: options.db, idleMs: options.idleMinutes * 60_000 })
  acceptForms(app)
  app.decorateRequest('console', null as never)
  // Pages are not the REST API: none of them goes into the OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true } as typeof route.schema
  })

  app.addHook('onRequest', async (request) => {
    const cookies = parseCookies(request.headers.cookie)
    const chosen = cookies.get(LANGUAGE_COOKIE)
    const locale = isLocale(chosen) ? chosen : negotiateLocale(request.headers['accept-language'])
    request.console = { t: translator(locale), session: await sessions.find(cookies.get(SESSION_COOKIE)) }
  })

  // CSRF: every state-changing request carries the session's token (form field or htmx header).
  app.addHook('preHandler', async (request) => {
    if (SAFE_METHODS.has(request.method)) return
    const submitted = request.headers['x-csrf-token'] ?? formOf(request.body).get('_csrf') ?? undefined
    const session = request.console.session
    const expected = session !== null ? session.csrfToken : (parseCookies(request.headers.cookie).get(PRE_SESSION_COOKIE) ?? '')
    if (expected === '' || !csrfMatches(expected, submitted)) throw new AppError('CSRF_INVALID')
  })

  app.addHook('onSend', async (_request, reply) => {
    reply.header(
      'content-security-policy',
      // No external origin anywhere; CodeMirror writes its theme into <style> elements, hence 'unsafe-inline' for styles only.
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'same-origin')
  })

  app.setErrorHandler((error: FastifyError | Error, request, reply) => handleError(error, request, reply))

  const context = { services: options, sessions, options }
  await app.register(assetRoutes, { assetsDir: options.assetsDir })
  await app.register(sessionRoutes, context)
  await app.register(scriptRoutes, context)
  await app.register(versionRoutes, context)
  await app.register(executionRoutes, context)
  await app.register(operationRoutes, context)
}

export interface RouteContext {
  services: ConsoleServices
  sessions: SessionStore
  options: ConsoleOptions
}

/** The console's one place where errors become HTML. */
function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const htmx = request.headers['hx-request'] === 'true'
  if (error instanceof RedirectTo) {
    if (htmx) return reply.status(200).header('hx-redirect', error.location).send()
    return reply.status(303).header('location', error.location).send()
  }
  const t = request.console?.t ?? translator('en')
  if (error instanceof AppError && error.code === 'CSRF_INVALID') return sendPage(reply, errorPage(t, error.code, t.t('errors.csrf')), 403)
  if (error instanceof AppError) {
    if ((error.status ?? 500) >= 500) request.log.error({ err: error }, 'console request failed')
    return sendPage(reply, errorPage(t, error.code, error.message), error.status ?? 500)
  }
  const status = (error as FastifyError).statusCode
  if (status !== undefined && status >= 400 && status < 500) return sendPage(reply, errorPage(t, 'VALIDATION_FAILED', error.message), status)
  request.log.error({ err: error }, 'unhandled console error')
  return sendPage(reply, errorPage(t, 'INTERNAL_ERROR', t.t('enum.code.INTERNAL_ERROR')), 500)
}

