/**
 * Microtasks a tenant's turn waits at most for the runs started before it to answer. A finished
 * hello run answers in 4 (its result taken, the host's run and the runner's send settled).
 */
export const BOUNCES = 40

/**
 * The order a runner without worker threads starts the runs of one read from the gateway's socket
 * (runner-process.ts): one tenant's runs back to back, and another tenant's only once the answers
 * of those have left.
 *
 * Why: a run's answer leaves after its promise settles (microtasks) and the channel flushes (at
 * the turn's end), and neither happens while this thread is inside a synchronous step. A read
 * holding a victim's run and then a neighbour's run that spins would keep the victim's finished
 * answer for the whole spin; the runner's hold watcher only rescues runs not started
 * (runner-hold.ts). So when the tenant changes within a read, the rest of it waits until the runs
 * started so far have answered (`began`, `answered`: a finished run's answer is a few microtasks
 * behind its step), or until BOUNCES microtasks have passed for one that waits on something
 * else (a host call, a timer); then `between` flushes their answers, and the next tenant's runs
 * start, in the same turn of the event loop. A read of one tenant's runs (hello at 100
 * connections) never waits. What waits keeps its order, and so does anything `keepOrder` puts
 * among them (the gateway's fence comes after the runs it withdrew, and must not pass them).
 *
 * Measured: with an immediate between tenants instead (before session 41) each switch cost the
 * runner's thread a turn of its event loop (an `epoll_pwait`, the immediates' machinery); one
 * runner holding 50 tenants at 100 connections spread over them took 139-181 us of its thread a
 * request against 120-133 (three alternating pairs, `perf`).
 *
 * @example
 * const turns = new TenantTurns<RunnerRequest>((request) => serve(request), () => channel.flush())
 * socket.prependListener('data', () => turns.newRead())
 * turns.offer(request, request.message.task.tenantId)
 * // where a run starts, and where its answer is sent:
 * const group = turns.began()
 * turns.answered(group)
 */
export class TenantTurns<T> {
  readonly #start: (item: T) => void
  readonly #between: () => void
  /** The tenant whose runs this read started; null: none yet. */
  #tenant: string | null = null
  /** Items waiting for the runs started before them to answer, in order (keepOrder's with no tenant). */
  #waiting: Array<{ item: T; tenant: string | null }> = []
  /** The runs started since the waiting last moved on (or the read began), and how many have not answered. */
  #group = 0
  #unanswered = 0
  #bounces = 0
  readonly #next = (): void => {
    if (this.#unanswered > 0 && ++this.#bounces < BOUNCES) queueMicrotask(this.#next)
    else this.#startWaiting()
  }

  constructor(start: (item: T) => void, between: () => void) {
    this.#start = start
    this.#between = between
  }

  /** A new read from the socket: the runs of the reads before it have settled and their answers left. */
  newRead(): void {
    if (this.#waiting.length === 0) this.#newGroup()
  }

  /** A run is started (by `start`): the group it belongs to, for `answered`. */
  began(): number {
    this.#unanswered++
    return this.#group
  }

  /** A run of `group` (from `began`) has sent its answer. */
  answered(group: number): void {
    if (group === this.#group) this.#unanswered--
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
    if (this.#waiting.push({ item, tenant }) === 1) this.#afterAnswers()
  }

  #afterAnswers(): void {
    this.#bounces = 0
    queueMicrotask(this.#next)
  }

  /** The runs started from now on are a new group, of no tenant yet. */
  #newGroup(): void {
    this.#tenant = null
    this.#group++
    this.#unanswered = 0
  }

  #startWaiting(): void {
    this.#between()
    this.#newGroup()
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
    if (this.#waiting.length > 0) this.#afterAnswers()
  }
}
