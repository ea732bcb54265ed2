import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { requireRole } from '../../services/auth.service.js'
import { AppError } from '../../errors.js'
import { RedirectTo, seeOther, sendPage } from '../console-context.js'
import { LANGUAGE_COOKIE, PRE_SESSION_COOKIE, SESSION_COOKIE, type RouteContext } from '../console-plugin.js'
import { parseCookies, serializeCookie } from '../cookies.js'
import { field, formOf } from '../form.js'
import { isLocale } from '../i18n/translator.js'
import { signInPage } from '../views/sign-in.js'
import { tenantPickerPage } from '../views/tenant-picker.js'

/**
 * Secure when the browser reached us over TLS: directly, or through a proxy that says so. Trusting
 * the header only ever adds the flag; a client that forges it gets a cookie its own browser keeps
 * off plain http.
 */
const secure = (request: FastifyRequest): boolean => request.protocol === 'https' || /\bhttps\b/i.test(String(request.headers['x-forwarded-proto'] ?? ''))

/** Only a path on this server (never `//host` or a scheme) is a place to go back to. */
export function localPath(value: string | undefined, fallback = '/'): string {
  if (value === undefined || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback
  return value
}

/** Sign-in with an API key, sign-out, the sticky language, the superadmin's tenant. */
export const sessionRoutes: FastifyPluginAsync<RouteContext> = async (app, { services, sessions }) => {
  const showSignIn = (request: FastifyRequest, reply: FastifyReply, next: string, error?: { code: string; message: string }, status = 200) => {
    // Before a session there is no server-side token: a random one in a cookie and in the form (double submit).
    const csrf = parseCookies(request.headers.cookie).get(PRE_SESSION_COOKIE) ?? randomBytes(24).toString('base64url')
    reply.header('set-cookie', serializeCookie(PRE_SESSION_COOKIE, csrf, { secure: secure(request) }))
    return sendPage(reply, signInPage(request.console.t, { csrf, next, ...(error ? { error } : {}) }), status)
  }

  app.get<{ Querystring: { next?: string } }>('/sign-in', async (request, reply) => {
    if (request.console.session !== null) return seeOther(reply, '/')
    return showSignIn(request, reply, localPath(request.query.next))
  })

  app.post('/sign-in', async (request, reply) => {
    const form = formOf(request.body)
    const next = localPath(field(form, 'next'))
    let principal
    try {
      principal = await services.auth.authenticate(field(form, 'token'))
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'UNAUTHORIZED') throw error
      return showSignIn(request, reply, next, { code: error.code, message: request.console.t.t('signIn.invalid') }, 401)
    }
    if (principal.keyId === null) throw new AppError('UNAUTHORIZED')
    const { token } = await sessions.create(principal.keyId)
    reply.header('set-cookie', [
      serializeCookie(SESSION_COOKIE, token, { secure: secure(request) }),
      serializeCookie(PRE_SESSION_COOKIE, '', { secure: secure(request), maxAgeSeconds: 0 }),
    ])
    return seeOther(reply, principal.tenantId === null ? '/tenants' : next)
  })

  app.post('/sign-out', async (request, reply) => {
    if (request.console.session !== null) await sessions.delete(request.console.session)
    reply.header('set-cookie', serializeCookie(SESSION_COOKIE, '', { secure: secure(request), maxAgeSeconds: 0 }))
    return seeOther(reply, '/sign-in')
  })

  app.get<{ Params: { locale: string }; Querystring: { back?: string } }>('/language/:locale', async (request, reply) => {
    if (!isLocale(request.params.locale)) throw new AppError('NOT_FOUND')
    reply.header('set-cookie', serializeCookie(LANGUAGE_COOKIE, request.params.locale, { secure: secure(request), maxAgeSeconds: 365 * 24 * 3600 }))
    return seeOther(reply, localPath(request.query.back))
  })

  app.get('/tenants', async (request, reply) => {
    const session = request.console.session
    if (session === null) throw new RedirectTo('/sign-in?next=%2Ftenants')
    requireRole(session.principal, ['superadmin'])
    const tenants = await services.db.system((tx) => tx<Array<{ slug: string; name: string }>>`SELECT slug, name FROM tenants ORDER BY slug LIMIT 1000`)
    return sendPage(reply, tenantPickerPage(request.console.t, session.csrfToken, [...tenants], session.tenantSlug))
  })

  app.post('/tenants', async (request, reply) => {
    const session = request.console.session
    if (session === null) throw new RedirectTo('/sign-in')
    requireRole(session.principal, ['superadmin'])
    const tenant = await services.tenants.resolve(session.principal, field(formOf(request.body), 'slug') ?? '')
    await sessions.pickTenant(session, tenant.slug)
    return seeOther(reply, '/')
  })
}
