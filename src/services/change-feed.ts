import { EventEmitter } from 'node:events'

/** A script of a tenant changed: routes and compiled programs for it must be refreshed. */
export interface ScriptChange {
  tenantId: string
  scriptId: string
}

export type ChangeListener = (change: ScriptChange) => void

/**
 * Tells this process's parts (the route table first) that scripts changed, at once.
 * Across processes the same changes travel over Postgres LISTEN/NOTIFY (gateway issue).
 */
export class ChangeFeed {
  readonly #emitter = new EventEmitter()

  subscribe(listener: ChangeListener): () => void {
    this.#emitter.on('change', listener)
    return () => this.#emitter.off('change', listener)
  }

  publish(change: ScriptChange): void {
    this.#emitter.emit('change', change)
  }
}
