/** A script of a tenant changed: routes and compiled programs for it must be refreshed. */
export interface ScriptChange {
  tenantId: string
  scriptId: string
  /** Made by another process and relayed here (never relayed again). */
  remote?: boolean
}

export type ChangeListener = (change: ScriptChange) => Promise<void> | void

/**
 * Tells this process's parts (the route table first) that scripts changed. `publish` resolves
 * once every listener has applied the change, so when the API answers 201 the new route is
 * already served by this process. Across processes the same changes travel over Postgres
 * LISTEN/NOTIFY (gateway issue).
 */
export class ChangeFeed {
  readonly #listeners = new Set<ChangeListener>()

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async publish(change: ScriptChange): Promise<void> {
    await Promise.all([...this.#listeners].map(async (listener) => listener(change)))
  }
}
