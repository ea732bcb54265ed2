import type { FastifyReply, FastifyRequest } from 'fastify'
import { can, type Permission, type Principal } from '../domain/auth.js'
import type { Tenant } from '../domain/tenant.js'
import type { Translator } from './i18n/translator.js'
import type { ConsoleSession } from './session-store.js'
import type { ConsoleServices } from './console-services.js'

/** What every page is rendered with: who, which tenant, in which language, the CSRF token. */
export interface PageContext {
  t: Translator
  session: ConsoleSession
  principal: Principal
  tenant: Tenant
  csrf: string
  /** The request path with its query, for the language switcher's way back. */
  path: string
  can(permission: Permission): boolean
  isAdmin: boolean
}

export interface ConsoleRequestState {
  t: Translator
  session: ConsoleSession | null
}

declare module 'fastify' {
  interface FastifyRequest {
    console: ConsoleRequestState
  }
}

/** Thrown by `pageContext` when the browser must go elsewhere first (sign-in, tenant picker). */
export class RedirectTo extends Error {
  override readonly name = 'RedirectTo'
  readonly location: string
  constructor(location: string) {
    super(`redirect to ${location}`)
    this.location = location
  }
}

/** The signed-in page context, or a redirect to sign in (no session) or to pick a tenant. */
export async function pageContext(services: ConsoleServices, request: FastifyRequest): Promise<PageContext> {
  const { session, t } = request.console
  if (session === null) throw new RedirectTo(`/sign-in?next=${encodeURIComponent(request.url)}`)
  const principal = session.principal
  if (principal.tenantId === null && session.tenantSlug === null) throw new RedirectTo('/tenants')
  const tenant = await services.tenants.resolve(principal, principal.tenantId === null ? (session.tenantSlug ?? undefined) : undefined)
  return {
    t,
    session,
    principal,
    tenant,
    csrf: session.csrfToken,
    path: request.url,
    can: (permission) => can(principal, permission),
    isAdmin: principal.role === 'admin' || principal.role === 'superadmin',
  }
}

/** A page answer: HTML, never cached, never framed. */
export function sendPage(reply: FastifyReply, body: { toString(): string }, status = 200): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body.toString())
}

/** After a POST: 303 to the page showing the result (htmx follows it as a full page). */
export function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.status(303).header('location', location).send()
}
