import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { TenantDirectory } from '../services/tenant-directory.js'
import type { Database } from './database.js'

const CHANNEL = 'isogate_tenant_changes'

/**
 * Carries tenant changes (status, quota, name, deletion) between isogate processes on one
 * PostgreSQL server: a change refreshed here is NOTIFYed; one NOTIFYed by another process makes
 * this process re-read that tenant, so a suspension or a new quota is in force on every node
 * within the notification's latency (milliseconds on a LAN). The embedded database serves one
 * process: there is nothing to relay.
 */
export class TenantRelay {
  readonly #origin = randomUUID()
  readonly #db: Database
  readonly #directory: TenantDirectory
  readonly #logger: Logger
  #unsubscribe: (() => void) | null = null
  #unlisten: (() => Promise<void>) | null = null

  constructor(db: Database, directory: TenantDirectory, logger: Logger) {
    this.#db = db
    this.#directory = directory
    this.#logger = logger
  }

  async start(): Promise<void> {
    if (this.#db.embedded) return
    // On a reconnect (onlisten runs again) notifications may have been missed: read everything again.
    let first = true
    const listener = await this.#db.sql.listen(CHANNEL, (payload) => this.#received(payload), () => {
      if (first) {
        first = false
        return
      }
      this.#directory.load().catch((error: unknown) => this.#logger.error({ err: error }, 'could not reload tenants after reconnecting'))
    })
    this.#unlisten = () => listener.unlisten()
    this.#unsubscribe = this.#directory.subscribe(async (change) => {
      if (change.remote) return
      await this.#db.sql.notify(CHANNEL, JSON.stringify({ origin: this.#origin, tenantId: change.tenantId }))
    })
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.()
    await this.#unlisten?.()
  }

  #received(payload: string): void {
    let message: { origin?: unknown; tenantId?: unknown }
    try {
      message = JSON.parse(payload) as typeof message
    } catch (error) {
      this.#logger.warn({ err: error, payload }, 'ignored a malformed tenant notification')
      return
    }
    if (message.origin === this.#origin || typeof message.tenantId !== 'string') return
    const tenantId = message.tenantId
    this.#directory.refresh(tenantId, { remote: true }).catch((error: unknown) => this.#logger.error({ err: error, tenantId }, 'could not apply a remote tenant change'))
  }
}
