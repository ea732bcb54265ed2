/**
 * Work queued under one key runs one after another, each piece once the one before settled;
 * different keys do not wait for each other. For re-reads that must land in the order they began
 * (a tenant's routes, its directory entry): a read begun before a change cannot land after the
 * read that saw it.
 *
 * @example
 * const queue = new KeyedQueue()
 * await queue.run(tenantId, () => reread(tenantId))
 */
export class KeyedQueue {
  /** Each key's last piece queued: the next one starts after it. */
  readonly #tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve()
    const next = before.then(work, work)
    this.#tails.set(key, next)
    const done = (): void => {
      if (this.#tails.get(key) === next) this.#tails.delete(key)
    }
    next.then(done, done)
    return next
  }
}
