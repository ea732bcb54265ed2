import type { Logger } from 'pino'
import type { Config } from '../../config/index.js'
import type { Executor, RunLimits } from '../../runner/index.js'
import { CronRepository } from '../db/cron.repository.js'
import type { Database } from '../db/database.js'
import { EventRepository } from '../db/event.repository.js'
import { ExecutionRepository } from '../db/execution.repository.js'
import type { ChangeFeed } from '../services/change-feed.js'
import { CronScheduler } from './cron-scheduler.js'
import { CronService } from './cron.service.js'
import { EventDispatcher } from './event-dispatcher.js'
import { EventService } from './event.service.js'
import type { TriggerMetrics } from './trigger-metrics.js'

export interface Triggers {
  cron: CronService
  events: EventService
  scheduler: CronScheduler
  dispatcher: EventDispatcher
  close(): Promise<void>
}

export interface TriggersOptions {
  db: Database
  executor: Executor
  changes: ChangeFeed
  config: Config
  defaultLimits: RunLimits
  logger: Logger
  /**
   * The EventService, when the caller made it first (the host APIs publish through it before the
   * triggers start). Its publishes do not wake this dispatcher, which finds them on its next poll.
   */
  events?: EventService
  /** Counts cron fires and event deliveries by outcome. */
  metrics?: TriggerMetrics
}

/**
 * Starts this process's cron scheduler and event dispatcher with the services the API uses.
 * Script changes made here wake both at once; those of other processes arrive by NOTIFY.
 */
export async function startTriggers(options: TriggersOptions): Promise<Triggers> {
  const { db, executor, config, defaultLimits, logger } = options
  const fires = new CronRepository()
  const eventRepository = new EventRepository()
  const executions = new ExecutionRepository()
  const scheduler = new CronScheduler({
    db,
    executor,
    fires,
    executions,
    defaultLimits,
    logger,
    missedPolicy: config.cronMissedPolicy,
    missedToleranceMs: config.cronMissedToleranceMs,
    pollMs: config.triggerPollMs,
    leaseMarginMs: config.triggerLeaseMarginMs,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  })
  const dispatcher = new EventDispatcher({
    db,
    executor,
    events: eventRepository,
    defaultLimits,
    logger,
    retries: config.eventRetries,
    retryBaseMs: config.eventRetryBaseMs,
    leaseMarginMs: config.triggerLeaseMarginMs,
    pollMs: config.triggerPollMs,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  })
  const cron = new CronService({ db, fires })
  const events = options.events ?? new EventService({ db, events: eventRepository, idempotencySeconds: config.eventIdempotencySeconds, onPublished: () => dispatcher.wake() })
  await scheduler.start()
  try {
    await dispatcher.start()
  } catch (error) {
    await scheduler.close()
    throw error
  }
  // Script changes also publish script.* events (a trigger in the database): wake both.
  const unsubscribe = options.changes.subscribe(() => {
    scheduler.wake()
    dispatcher.wake()
  })
  return {
    cron,
    events,
    scheduler,
    dispatcher,
    async close() {
      unsubscribe()
      await Promise.all([scheduler.close(), dispatcher.close()])
    },
  }
}
