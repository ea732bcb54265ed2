import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Database } from '../db/database.js'
import type { Principal, Role } from '../domain/auth.js'

/** A signed-in browser: the API key it acts as and what it picked. */
export interface ConsoleSession {
  idHash: string
  principal: Principal
  keyName: string
  /** The tenant a superadmin picked (a tenant key's own tenant is implied). */
  tenantSlug: string | null
  csrfToken: string
}

export interface SessionStoreOptions {
  db: Database
  /** A session unused this long is over. */
  idleMs: number
  /** last_seen_at is written at most this often per session (default one minute). */
  touchEveryMs?: number
}

const hash = (token: string): string => createHash('sha256').update(token).digest('hex')

/**
 * Console sessions in Postgres (console_sessions), so every node on the database serves every
 * session. Each lookup joins the key: a revoked or expired key ends its sessions on the next request.
 */
export class SessionStore {
  readonly #db: Database
  readonly #idleMs: number
  readonly #touchEveryMs: number

  constructor(options: SessionStoreOptions) {
    if (!Number.isInteger(options.idleMs) || options.idleMs < 1000) throw new RangeError('options.idleMs must be an integer of at least 1000')
    this.#db = options.db
    this.#idleMs = options.idleMs
    this.#touchEveryMs = options.touchEveryMs ?? 60_000
  }

  /** Starts a session for a key; answers the cookie value (shown to the browser only). */
  async create(keyId: string): Promise<{ token: string; csrfToken: string }> {
    const token = randomBytes(32).toString('base64url')
    const csrfToken = randomBytes(32).toString('base64url')
    await this.#db.system(async (tx) => {
      // Sessions past their idle time are removed as new ones start: no timer, any node does it.
      await tx`DELETE FROM console_sessions WHERE last_seen_at < now() - ${this.#idleMs} * interval '1 millisecond'`
      await tx`INSERT INTO console_sessions (id_hash, key_id, csrf_token) VALUES (${hash(token)}, ${keyId}, ${csrfToken})`
    })
    return { token, csrfToken }
  }

  /** The live session for a cookie value, or null (unknown, idle too long, key revoked or expired). */
  async find(token: string | undefined): Promise<ConsoleSession | null> {
    if (token === undefined || token === '' || token.length > 200) return null
    const idHash = hash(token)
    const rows = await this.#db.system(
      (tx) => tx<Array<{ key_id: string; tenant_slug: string | null; csrf_token: string; role: Role; tenant_id: string | null; name: string; stale: boolean }>>`
        SELECT s.key_id, s.tenant_slug, s.csrf_token, k.role, k.tenant_id, k.name,
               s.last_seen_at < now() - ${this.#touchEveryMs} * interval '1 millisecond' AS stale
        FROM console_sessions s JOIN api_keys k ON k.id = s.key_id
        WHERE s.id_hash = ${idHash} AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
          AND s.last_seen_at >= now() - ${this.#idleMs} * interval '1 millisecond'`,
    )
    const row = rows[0]
    if (row === undefined) return null
    if (row.stale) await this.#db.system((tx) => tx`UPDATE console_sessions SET last_seen_at = now() WHERE id_hash = ${idHash}`)
    return {
      idHash,
      principal: { keyId: row.key_id, role: row.role, tenantId: row.tenant_id },
      keyName: row.name,
      tenantSlug: row.tenant_slug,
      csrfToken: row.csrf_token,
    }
  }

  async pickTenant(session: ConsoleSession, slug: string): Promise<void> {
    await this.#db.system((tx) => tx`UPDATE console_sessions SET tenant_slug = ${slug}, last_seen_at = now() WHERE id_hash = ${session.idHash}`)
  }

  async delete(session: ConsoleSession): Promise<void> {
    await this.#db.system((tx) => tx`DELETE FROM console_sessions WHERE id_hash = ${session.idHash}`)
  }
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(expected: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string' || submitted.length !== expected.length) return false
  return timingSafeEqual(Buffer.from(submitted), Buffer.from(expected))
}
