import postgres from 'postgres'
import { DatabaseError } from '../errors.js'
import { EmbeddedPostgres } from './embedded-postgres.js'
import { migrate } from './migrations.js'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql

export interface DatabaseOptions {
  /** A PostgreSQL server; when absent, the embedded database under `dataDir`. */
  url?: string | undefined
  dataDir: string
  /** Connections to a server (the embedded database always uses exactly one). */
  maxConnections?: number
  /** A new embedded database starts as a copy of this PGlite folder (see EmbeddedPostgresOptions.template). */
  embeddedTemplate?: string | undefined
}

/**
 * The one way isogate reaches Postgres. Every application query runs inside `tenant()` or
 * `system()`, which switch to a role that row-level security applies to (`SET LOCAL ROLE`),
 * never as the login user, which may be a superuser and bypass RLS. The settings are
 * transaction-local, so a pooled connection never carries one tenant into another's query.
 *
 * @example
 * const db = await Database.open({ dataDir: './.isogate' })
 * const scripts = await db.tenant(tenantId, (tx) => tx`SELECT id FROM scripts`)
 */
export class Database {
  readonly sql: Sql
  readonly embedded: boolean
  readonly url: string
  readonly #embedded: EmbeddedPostgres | null

  private constructor(sql: Sql, url: string, embedded: EmbeddedPostgres | null) {
    this.sql = sql
    this.url = url
    this.embedded = embedded !== null
    this.#embedded = embedded
  }

  /** Connects (starting the embedded database when no URL is given) and applies migrations. */
  static async open(options: DatabaseOptions): Promise<Database> {
    let embedded: EmbeddedPostgres | null = null
    let url = options.url
    if (url === undefined) {
      embedded = new EmbeddedPostgres({ dataDir: options.dataDir, template: options.embeddedTemplate })
      url = await embedded.start()
    }
    const sql = postgres(url, {
      max: embedded ? 1 : (options.maxConnections ?? 10),
      onnotice: () => {},
      connection: { application_name: 'isogate' },
    })
    const database = new Database(sql, url, embedded)
    try {
      await migrate(sql)
    } catch (error) {
      await database.close()
      throw new DatabaseError(`could not migrate the database: ${(error as Error).message}`, { cause: error })
    }
    return database
  }

  /** Runs `fn` in a transaction that sees only `tenantId`'s rows. */
  tenant<T>(tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      await tx`SELECT set_config('role', 'isogate_app', true), set_config('isogate.tenant_id', ${tenantId}, true)`
      return fn(tx)
    }) as Promise<T>
  }

  /** Runs `fn` in a transaction that sees every tenant: routing, auth lookups, tenant admin. */
  system<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      await tx`SELECT set_config('role', 'isogate_system', true)`
      return fn(tx)
    }) as Promise<T>
  }

  /**
   * Runs one statement whose one parameter (`$1`, a JSON text) carries a whole batch, in system
   * scope: on the embedded database as one message to its thread (no wire protocol in between),
   * on a server as one statement in a system transaction. For execution records and rollups.
   */
  async systemBatch(statement: string, payload: string): Promise<void> {
    if (this.#embedded !== null) return this.#embedded.batch(statement, payload)
    await this.system((tx) => tx.unsafe(statement, [payload]))
  }

  async ping(): Promise<boolean> {
    try {
      await this.sql`SELECT 1`
      return true
    } catch {
      // Readiness answers false; the caller logs and reports it.
      return false
    }
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 })
    await this.#embedded?.stop()
  }
}
