import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { ChangeFeed, ScriptChange } from '../services/change-feed.js'
import type { Database } from './database.js'

const CHANNEL = 'isogate_script_changes'

/**
 * Carries script changes between isogate processes that share one PostgreSQL server: a change
 * made here is NOTIFYed; a change NOTIFYed by another process is published on this process's
 * feed, so its route table refreshes without a restart and without polling. The embedded
 * database serves one process (and one connection, so no LISTEN): there is nothing to relay.
 */
export class ChangeRelay {
  readonly #origin = randomUUID()
  readonly #db: Database
  readonly #feed: ChangeFeed
  readonly #logger: Logger
  #unsubscribe: (() => void) | null = null
  #unlisten: (() => Promise<void>) | null = null

  constructor(db: Database, feed: ChangeFeed, logger: Logger) {
    this.#db = db
    this.#feed = feed
    this.#logger = logger
  }

  /**
   * Listens for the other processes' changes. `onReconnect` runs when the notification connection
   * came back after a loss: changes made meanwhile were missed, so the caller reads everything again.
   */
  async start(onReconnect?: () => Promise<void>): Promise<void> {
    if (this.#db.embedded) return
    let first = true
    const listener = await this.#db.sql.listen(CHANNEL, (payload) => this.#received(payload), () => {
      if (first) {
        first = false
        return
      }
      onReconnect?.().catch((error: unknown) => this.#logger.error({ err: error }, 'could not reload routes after reconnecting'))
    })
    this.#unlisten = () => listener.unlisten()
    this.#unsubscribe = this.#feed.subscribe(async (change) => {
      if (change.remote) return
      await this.#db.sql.notify(CHANNEL, JSON.stringify({ origin: this.#origin, tenantId: change.tenantId, scriptId: change.scriptId }))
    })
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.()
    await this.#unlisten?.()
  }

  #received(payload: string): void {
    let message: { origin?: string; tenantId?: string; scriptId?: string }
    try {
      message = JSON.parse(payload) as typeof message
    } catch (error) {
      this.#logger.warn({ err: error, payload }, 'ignored a malformed change notification')
      return
    }
    if (message.origin === this.#origin || typeof message.tenantId !== 'string' || typeof message.scriptId !== 'string') return
    const change: ScriptChange = { tenantId: message.tenantId, scriptId: message.scriptId, remote: true }
    this.#feed.publish(change).catch((error: unknown) => this.#logger.error({ err: error, change }, 'could not apply a remote change'))
  }
}
