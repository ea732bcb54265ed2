import type { FastifyRequest } from 'fastify'
import type { Database } from '../db/database.js'
import type { Principal } from '../domain/auth.js'
import { AppError } from '../errors.js'
import { parseCookies } from './cookies.js'
import { SESSION_COOKIE } from './console-plugin.js'
import { SessionStore } from './session-store.js'

export interface SessionAuthOptions {
  db: Database
  /** A session unused this long is over (the console's ISOGATE_CONSOLE_IDLE_MINUTES). */
  idleMinutes: number
}

/** Who a console session acts as, and the tenant it has picked. */
export interface SessionIdentity {
  principal: Principal
  /** The tenant a superadmin's session picked (a tenant key's own tenant is implied). */
  tenantSlug: string | null
}

/**
 * The console's session as the credential of an API route a browser cannot send a key to: a
 * WebSocket (the live tail) takes no Authorization header from a page. Only routes that declare
 * `config: { session: true }` accept it, and only GETs: nothing that changes state, so no CSRF
 * token is involved. What stands in for it is the Origin check: a page may open a WebSocket to
 * any host and the browser attaches that host's cookies (SameSite=Strict stops only other
 * sites, not another origin of the same site), so a request carrying the session cookie must
 * say, in the Origin header a browser always sends and a page cannot forge, that it comes from
 * the console's own origin (scheme aside: the host and port the request was sent to).
 *
 * @example
 * const sessions = new SessionAuth({ db, idleMinutes: 30 })
 * const identity = await sessions.authenticate(request) // null: no session cookie, use the key
 */
export class SessionAuth {
  readonly #sessions: SessionStore

  constructor(options: SessionAuthOptions) {
    if (!Number.isInteger(options.idleMinutes) || options.idleMinutes < 1) throw new RangeError('options.idleMinutes must be a positive integer')
    this.#sessions = new SessionStore({ db: options.db, idleMs: options.idleMinutes * 60_000 })
  }

  /**
   * The session's identity; null when the request carries no session cookie or a dead one (the
   * caller then asks for a key as usual). ORIGIN_REFUSED when the cookie comes from another origin.
   */
  async authenticate(request: FastifyRequest): Promise<SessionIdentity | null> {
    if (request.method !== 'GET') return null
    const token = parseCookies(request.headers.cookie).get(SESSION_COOKIE)
    if (token === undefined) return null
    if (!sameOrigin(request.headers.origin, request.headers.host)) throw new AppError('ORIGIN_REFUSED')
    const session = await this.#sessions.find(token)
    return session === null ? null : { principal: session.principal, tenantSlug: session.tenantSlug }
  }
}

/** The Origin names the host (and port) the request was sent to. */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || host === undefined || origin === 'null') return false
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    // An Origin that is not a URL is no origin at all.
    return false
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  return url.host.toLowerCase() === host.toLowerCase()
}
