import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { mergeLimits, runTask, type Executor, type RunLimits } from '../../runner/index.js'
import type { Database, Tx } from '../db/database.js'
import { eventSnapshot, type ClaimableDelivery, type DeliveryAttempt, type EventRepository } from '../db/event.repository.js'
import { recordOf, unrunRecord, type ExecutionRecord } from '../domain/execution.js'
import { PollLoop } from './poll-loop.js'
import { checkPositive, instanceId, runSafely, systemClock, type Clock } from './run-support.js'
import { NO_TRIGGER_METRICS, type DeliveryOutcome, type TriggerMetrics } from './trigger-metrics.js'

export interface EventDispatcherOptions {
  db: Database
  executor: Executor
  events: EventRepository
  defaultLimits: RunLimits
  logger: Logger
  /** Retries after the first failed attempt; then the delivery becomes a dead letter. */
  retries?: number
  /** First retry delay; each next one doubles (2 s, 4 s, 8 s). */
  retryBaseMs?: number
  /** A claimed delivery is taken over this long after its run's wall-clock limit. */
  leaseMarginMs?: number
  pollMs?: number
  /** Deliveries this process runs at once. */
  concurrency?: number
  /** How long a delivery to a paused script waits before it is looked at again. */
  pausedDelayMs?: number
  clock?: Clock
  autoStart?: boolean
  /** Counts attempts by outcome, retries and dead letters. */
  metrics?: TriggerMetrics
}

const DEFAULTS = { retries: 3, retryBaseMs: 2_000, leaseMarginMs: 10_000, pollMs: 5_000, concurrency: 8, pausedDelayMs: 30_000 }

interface Started {
  delivery: ClaimableDelivery
  attempt: number
  executionId: string
  startedAt: Date
}

/**
 * Runs event deliveries, in every process at once: deliveries are claimed with
 * FOR UPDATE SKIP LOCKED and leased for the run's wall-clock limit plus a margin; one whose
 * lease ran out (its process died) is claimed again, its lost attempt recorded
 * (at-least-once: handlers see `attempt`). A failed attempt is retried after 2 s, 4 s, 8 s;
 * after the last one the delivery becomes a dead letter holding the event and every attempt.
 *
 * @example
 * const dispatcher = new EventDispatcher({ db, executor: pool, events: new EventRepository(), defaultLimits, logger })
 * await dispatcher.start()
 */
export class EventDispatcher {
  readonly #db: Database
  readonly #executor: Executor
  readonly #events: EventRepository
  readonly #defaults: RunLimits
  readonly #logger: Logger
  readonly #retries: number
  readonly #retryBaseMs: number
  readonly #leaseMarginMs: number
  readonly #concurrency: number
  readonly #pausedDelayMs: number
  readonly #clock: Clock
  readonly #autoStart: boolean
  readonly #metrics: TriggerMetrics
  readonly #instance = instanceId()
  readonly #loop: PollLoop

  constructor(options: EventDispatcherOptions) {
    checkPositive(options as unknown as Record<string, unknown>, ['retries', 'retryBaseMs', 'leaseMarginMs', 'pollMs', 'concurrency', 'pausedDelayMs'])
    this.#db = options.db
    this.#executor = options.executor
    this.#events = options.events
    this.#defaults = options.defaultLimits
    this.#logger = options.logger
    this.#retries = options.retries ?? DEFAULTS.retries
    this.#retryBaseMs = options.retryBaseMs ?? DEFAULTS.retryBaseMs
    this.#leaseMarginMs = options.leaseMarginMs ?? DEFAULTS.leaseMarginMs
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULTS.concurrency)
    this.#pausedDelayMs = options.pausedDelayMs ?? DEFAULTS.pausedDelayMs
    this.#clock = options.clock ?? systemClock
    this.#autoStart = options.autoStart ?? true
    this.#metrics = options.metrics ?? NO_TRIGGER_METRICS
    this.#loop = new PollLoop({
      db: this.#db,
      channel: 'isogate_events',
      logger: this.#logger,
      name: 'event dispatch pass',
      pollMs: options.pollMs ?? DEFAULTS.pollMs,
      clock: this.#clock,
      // Claimed some with room for more: more may be due right now.
      pass: async () => (await this.runDue()) > 0 && this.#loop.inflight < this.#concurrency,
      earliest: () => this.#db.system((tx) => this.#events.earliest(tx)),
    })
  }

  start(): Promise<void> {
    return this.#loop.start(this.#autoStart)
  }

  wake(): void {
    this.#loop.wake()
  }

  /** One pass: claims what is due (up to free concurrency) and starts it. Answers how many. */
  async runDue(): Promise<number> {
    const free = this.#concurrency - this.#loop.inflight
    if (free <= 0) return 0
    const now = new Date(this.#clock.now())
    const started = await this.#db.system(async (tx) => {
      const runs: Started[] = []
      for (const delivery of await this.#events.claimable(tx, now, free)) {
        const run = await this.#claim(tx, delivery, now)
        if (run !== null) runs.push(run)
      }
      return runs
    })
    for (const run of started) this.#start(run)
    return started.length
  }

  idle(): Promise<void> {
    return this.#loop.idle()
  }

  close(): Promise<void> {
    return this.#loop.close()
  }

  async #claim(tx: Tx, delivery: ClaimableDelivery, now: Date): Promise<Started | null> {
    const attempts = [...delivery.attempts]
    if (delivery.status === 'running') {
      // Its process stopped mid-run: that attempt is lost, and recorded as such.
      const error = { code: 'EVENT_DELIVERY_ABANDONED', message: `the process running this attempt (${delivery.claimedBy}) stopped before it finished` }
      attempts.push({ attempt: delivery.attempt, executionId: delivery.executionId, claimedBy: delivery.claimedBy, startedAt: delivery.startedAt?.toISOString() ?? null, finishedAt: now.toISOString(), error })
      if (delivery.executionId !== null) {
        await this.#events.insertExecution(tx, this.#lostRecord(delivery, delivery.executionId, delivery.startedAt ?? now, error, now), delivery.event)
      }
      this.#metrics.delivery('abandoned')
      if (delivery.attempt > this.#retries) {
        await this.#events.deadLetter(tx, delivery, attempts, now)
        this.#metrics.delivery('dead')
        return null
      }
    }
    if (delivery.script.status === 'paused') {
      await this.#events.reschedule(tx, delivery.id, new Date(now.getTime() + this.#pausedDelayMs), attempts)
      return null
    }
    if (delivery.script.status !== 'active') {
      await this.#events.finish(tx, delivery.id, 'cancelled', attempts, now)
      this.#metrics.delivery('cancelled')
      return null
    }
    const attempt = delivery.attempt + 1
    const executionId = randomUUID()
    const timeoutMs = mergeLimits(this.#defaults, delivery.script.limits).timeoutMs
    const leaseUntil = new Date(now.getTime() + timeoutMs + this.#leaseMarginMs)
    await this.#events.markRunning(tx, delivery.id, { attempt, executionId, claimedBy: this.#instance, startedAt: now, leaseUntil, attempts })
    return { delivery: { ...delivery, attempts }, attempt, executionId, startedAt: now }
  }

  #start(run: Started): void {
    this.#loop.track(this.#execute(run).catch((error: unknown) => this.#logger.error({ err: error, deliveryId: run.delivery.id }, 'could not record an event delivery')))
  }

  async #execute(run: Started): Promise<void> {
    const { delivery } = run
    const input = {
      ...eventSnapshot(delivery),
      deliveryId: delivery.id,
      attempt: run.attempt,
    }
    const result = await runSafely(this.#executor, runTask({
      kind: 'event',
      program: { tenantId: delivery.tenantId, scriptId: delivery.scriptId, version: delivery.script.version, sourceHash: delivery.script.sourceHash, source: delivery.script.source },
      input,
      env: delivery.script.env,
      defaults: this.#defaults,
      limits: delivery.script.limits,
      executionId: run.executionId,
      eventDepth: delivery.event.depth,
    }))
    const record = recordOf({ id: run.executionId, tenantId: delivery.tenantId, scriptId: delivery.scriptId, scriptVersion: delivery.script.version, trigger: 'event', input, startedAt: run.startedAt }, result)
    const now = new Date(this.#clock.now())
    const outcome = await this.#db.system(async (tx): Promise<DeliveryOutcome | null> => {
      await this.#events.insertExecution(tx, record, delivery.event)
      // Taken over after its lease (this process was too slow): the new claimer owns it now.
      if (!(await this.#events.ownsAttempt(tx, delivery.id, run.executionId))) return null
      const error = result.ok ? null : { code: result.error?.code, message: result.error?.message ?? 'failed' }
      const attempts: DeliveryAttempt[] = [
        ...delivery.attempts,
        { attempt: run.attempt, executionId: run.executionId, claimedBy: this.#instance, startedAt: run.startedAt.toISOString(), finishedAt: now.toISOString(), error },
      ]
      if (result.ok) {
        await this.#events.finish(tx, delivery.id, 'completed', attempts, now)
        return 'completed'
      }
      if (run.attempt > this.#retries) {
        await this.#events.deadLetter(tx, delivery, attempts, now)
        return 'dead'
      }
      await this.#events.reschedule(tx, delivery.id, new Date(now.getTime() + this.#retryBaseMs * 2 ** (run.attempt - 1)), attempts)
      return 'retry'
    })
    if (outcome !== null) this.#metrics.delivery(outcome)
  }

  #lostRecord(delivery: ClaimableDelivery, id: string, startedAt: Date, error: { code: string; message: string }, now: Date): ExecutionRecord {
    return unrunRecord(
      {
        id,
        tenantId: delivery.tenantId,
        scriptId: delivery.scriptId,
        scriptVersion: delivery.script.version,
        trigger: 'event',
        status: 'failed',
        input: { id: delivery.eventId, type: delivery.event.type, attempt: delivery.attempt },
        createdAt: startedAt,
        startedAt,
        finishedAt: now,
      },
      error,
    )
  }
}
