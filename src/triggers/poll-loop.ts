import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { listen, type Clock } from './run-support.js'
import { Wakeup } from './wakeup.js'

export interface PollLoopOptions {
  db: Database
  /** The NOTIFY channel that says something changed. */
  channel: string
  logger: Logger
  /** What the loop does, for its log line ("cron pass"). */
  name: string
  /** Longest sleep when nothing is due and no notification arrives. */
  pollMs: number
  clock: Clock
  /** One pass: claims what is due and starts it. Answers whether to look again at once. */
  pass(): Promise<boolean>
  /** When the next thing falls due, if anything does. */
  earliest(): Promise<Date | null>
}

/**
 * The loop of a trigger that claims work from Postgres (cron fires, event deliveries): a pass,
 * then a sleep until the next due time, the poll interval, or a wake-up (a NOTIFY from any
 * process, or this one's own change); it keeps the runs it started, so closing waits for them.
 */
export class PollLoop {
  readonly #options: PollLoopOptions
  readonly #wakeup = new Wakeup()
  readonly #inflight = new Set<Promise<void>>()
  #loop: Promise<void> | null = null
  #unlisten: (() => Promise<void>) | null = null
  #closed = false

  constructor(options: PollLoopOptions) {
    this.#options = options
  }

  /** Runs started and not finished yet. */
  get inflight(): number {
    return this.#inflight.size
  }

  /** Listens for changes from every process; starts looping unless `loop` is false (tests drive the passes). */
  async start(loop: boolean): Promise<void> {
    this.#unlisten = await listen(this.#options.db, this.#options.channel, () => this.wake(), this.#options.logger)
    if (loop) this.#loop = this.#run()
  }

  /** Something changed: look again now. */
  wake(): void {
    this.#wakeup.wake()
  }

  /** Keeps a started run until it settles (it must not reject); then looks again, a slot being free. */
  track(run: Promise<void>): void {
    const tracked = run.finally(() => {
      this.#inflight.delete(tracked)
      this.#wakeup.wake()
    })
    this.#inflight.add(tracked)
  }

  /** Resolves when every run started so far has finished. */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#wakeup.wake()
    await this.#loop
    await this.#unlisten?.()
    await this.idle()
  }

  async #run(): Promise<void> {
    const { pass, earliest, pollMs, clock, logger, name } = this.#options
    while (!this.#closed) {
      let delay = pollMs
      try {
        if (await pass()) continue
        const next = await earliest()
        if (next !== null) delay = Math.min(pollMs, Math.max(0, next.getTime() - clock.now()))
      } catch (error) {
        logger.error({ err: error }, `${name} failed; retrying`)
      }
      if (this.#closed) break
      // A few ms past the due time, so the clock reads at or after it when we look.
      await this.#wakeup.wait(delay + 2)
    }
  }
}
