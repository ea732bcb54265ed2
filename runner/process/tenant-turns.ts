/**
 * The order a runner without worker threads starts the runs of one read from the gateway's socket
 * (runner-process.ts): one tenant's runs back to back, and another tenant's only once the answers
 * of those have left.
 *
 * Why: a run's answer leaves after its promise settles (microtasks) and the channel flushes (at
 * the turn's end), and neither happens while this thread is inside a synchronous step. A read
 * holding a victim's run and then a neighbour's run that spins would keep the victim's finished
 * answer for the whole spin; the runner's hold watcher only rescues runs not started
 * (runner-hold.ts). So when the tenant changes within a read, the rest of it waits for an
 * immediate: by then the runs started so far have settled, `between` flushes their answers, and
 * the next tenant's runs start. A read of one tenant's runs (hello at 100 connections) never
 * waits. What waits keeps its order, and so does anything `keepOrder` puts among them (the
 * gateway's fence comes after the runs it withdrew, and must not pass them).
 *
 * @example
 * const turns = new TenantTurns<RunnerRequest>((request) => serve(request), () => channel.flush())
 * socket.prependListener('data', () => turns.newRead())
 * turns.offer(request, request.message.task.tenantId)
 */
export class TenantTurns<T> {
  readonly #start: (item: T) => void
  readonly #between: () => void
  /** The tenant whose runs this read started; null: none yet. */
  #tenant: string | null = null
  /** Items waiting for the next immediate, in order (keepOrder's with no tenant). */
  #waiting: Array<{ item: T; tenant: string | null }> = []
  readonly #next = (): void => this.#startWaiting()

  constructor(start: (item: T) => void, between: () => void) {
    this.#start = start
    this.#between = between
  }

  /** A new read from the socket: the runs of the reads before it have settled and their answers left. */
  newRead(): void {
    if (this.#waiting.length === 0) this.#tenant = null
  }

  /** Starts a run of `tenant` now, or after the answers of another tenant's runs started in this read. */
  offer(item: T, tenant: string): void {
    if (this.#waiting.length === 0 && (this.#tenant === null || this.#tenant === tenant)) {
      this.#tenant = tenant
      this.#start(item)
      return
    }
    this.#wait(item, tenant)
  }

  /** Starts `item` (not a run: the gateway's fence, a stats or evict request) now, or after the items waiting, in its place among them. */
  keepOrder(item: T): void {
    if (this.#waiting.length === 0) this.#start(item)
    else this.#wait(item, null)
  }

  #wait(item: T, tenant: string | null): void {
    if (this.#waiting.push({ item, tenant }) === 1) setImmediate(this.#next)
  }

  #startWaiting(): void {
    this.#between()
    this.#tenant = null
    const waiting = this.#waiting
    let index = 0
    for (; index < waiting.length; index++) {
      const { item, tenant } = waiting[index] as { item: T; tenant: string | null }
      if (tenant !== null) {
        if (this.#tenant !== null && this.#tenant !== tenant) break
        this.#tenant = tenant
      }
      this.#start(item)
    }
    this.#waiting = waiting.slice(index)
    if (this.#waiting.length > 0) setImmediate(this.#next)
  }
}
