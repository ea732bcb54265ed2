/**
 * Triggers: the cron scheduler and the event dispatcher (one each per process, agreeing through
 * Postgres), and the services the API and the host APIs call.
 */
export { CronScheduler, type CronSchedulerOptions, type MissedPolicy } from './cron-scheduler.js'
export { CronService, previewQuery, type CronPreview, type ScriptSchedule } from './cron.service.js'
export { EventDispatcher, type EventDispatcherOptions } from './event-dispatcher.js'
export { EventService, deadLetterListQuery, eventInput, EVENT_TYPE, MAX_EVENT_DEPTH, type EventServiceOptions, type PublishedEvent, type PublishOptions } from './event.service.js'
export { systemClock, type Clock } from './run-support.js'
export { startTriggers, type Triggers } from './start.js'
