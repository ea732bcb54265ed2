import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { mergeLimits, runTask, type Executor, type RunLimits } from '../../runner/index.js'
import type { CronRepository, DueCron } from '../db/cron.repository.js'
import type { Database, Tx } from '../db/database.js'
import type { ExecutionRepository } from '../db/execution.repository.js'
import { CronSchedule } from '../domain/cron-schedule.js'
import { recordOf, unrunRecord, type ExecutionRecord } from '../domain/execution.js'
import { PollLoop } from './poll-loop.js'
import { checkPositive, instanceId, runSafely, systemClock, type Clock } from './run-support.js'
import { NO_TRIGGER_METRICS, type TriggerMetrics } from './trigger-metrics.js'

export type MissedPolicy = 'skip' | 'run-once'

export interface CronSchedulerOptions {
  db: Database
  executor: Executor
  fires: CronRepository
  executions: ExecutionRepository
  defaultLimits: RunLimits
  logger: Logger
  /** Slots missed while no process ran: skip them, or run the latest once. Recorded either way. */
  missedPolicy?: MissedPolicy
  /** A slot this late (or less) still runs as usual. */
  missedToleranceMs?: number
  /** Longest sleep when nothing is due and no notification arrives. */
  pollMs?: number
  /** A running fire is taken for dead this long after its wall-clock limit. */
  leaseMarginMs?: number
  /** Due scripts claimed per transaction. */
  batchSize?: number
  clock?: Clock
  /** Start the loop (false: tests drive `runDue()` with a fake clock). */
  autoStart?: boolean
  /** Counts fires by outcome. */
  metrics?: TriggerMetrics
}

const DEFAULTS = { missedPolicy: 'skip' as MissedPolicy, missedToleranceMs: 10_000, pollMs: 5_000, leaseMarginMs: 10_000, batchSize: 50 }

/** Missed slots are counted exactly up to this many; past it the record says "at least". */
const MAX_MISSED_COUNT = 100

interface Claim {
  due: DueCron
  scheduledAt: Date
  executionId: string
  startedAt: Date
  missed: number
}

/**
 * Fires scheduled scripts. Every process runs one; they agree through Postgres alone:
 * a due script row is locked (FOR UPDATE SKIP LOCKED), its slot is claimed by inserting
 * (script_id, scheduled_at) into cron_fires (the primary key refuses a second claim), and
 * next_run_at moves on in the same transaction. A fire of a script whose previous fire is still
 * running is recorded as skipped (reason overlap); a running fire whose process died is marked
 * failed (reason abandoned) once its lease (wall-clock limit + margin) is over.
 *
 * @example
 * const scheduler = new CronScheduler({ db, executor: pool, fires: new CronRepository(), executions, defaultLimits, logger })
 * await scheduler.start()
 * await scheduler.close()
 */
export class CronScheduler {
  readonly #db: Database
  readonly #executor: Executor
  readonly #fires: CronRepository
  readonly #executions: ExecutionRepository
  readonly #defaults: RunLimits
  readonly #logger: Logger
  readonly #policy: MissedPolicy
  readonly #toleranceMs: number
  readonly #leaseMarginMs: number
  readonly #batchSize: number
  readonly #clock: Clock
  readonly #autoStart: boolean
  readonly #metrics: TriggerMetrics
  readonly #instance = instanceId()
  readonly #loop: PollLoop
  readonly #schedules = new Map<string, CronSchedule>()
  readonly #badPlans = new Set<string>()

  constructor(options: CronSchedulerOptions) {
    checkPositive(options as unknown as Record<string, unknown>, ['missedToleranceMs', 'pollMs', 'leaseMarginMs', 'batchSize'])
    if (options.missedPolicy !== undefined && options.missedPolicy !== 'skip' && options.missedPolicy !== 'run-once') {
      throw new TypeError("options.missedPolicy must be 'skip' or 'run-once'")
    }
    this.#db = options.db
    this.#executor = options.executor
    this.#fires = options.fires
    this.#executions = options.executions
    this.#defaults = options.defaultLimits
    this.#logger = options.logger
    this.#policy = options.missedPolicy ?? DEFAULTS.missedPolicy
    this.#toleranceMs = options.missedToleranceMs ?? DEFAULTS.missedToleranceMs
    this.#leaseMarginMs = options.leaseMarginMs ?? DEFAULTS.leaseMarginMs
    this.#batchSize = Math.max(1, options.batchSize ?? DEFAULTS.batchSize)
    this.#clock = options.clock ?? systemClock
    this.#autoStart = options.autoStart ?? true
    this.#metrics = options.metrics ?? NO_TRIGGER_METRICS
    this.#loop = new PollLoop({
      db: this.#db,
      channel: 'isogate_cron',
      logger: this.#logger,
      name: 'cron pass',
      pollMs: options.pollMs ?? DEFAULTS.pollMs,
      clock: this.#clock,
      // A full batch: more may be due right now.
      pass: async () => (await this.runDue()) >= this.#batchSize,
      earliest: () => this.#db.system((tx) => this.#fires.earliest(tx)),
    })
  }

  /** Listens for schedule changes from every process and starts the loop. */
  start(): Promise<void> {
    return this.#loop.start(this.#autoStart)
  }

  /** Something changed (a script of this process, or a NOTIFY): look again now. */
  wake(): void {
    this.#loop.wake()
  }

  /**
   * One pass: plans new or changed schedules, claims every due slot, starts their runs.
   * Answers how many slots it claimed to run (skipped ones not counted).
   */
  async runDue(): Promise<number> {
    const now = new Date(this.#clock.now())
    await this.#plan(now)
    const claims = await this.#db.system(async (tx) => {
      const records: ExecutionRecord[] = []
      const claimed: Claim[] = []
      for (const due of await this.#fires.due(tx, now, this.#batchSize)) {
        const claim = await this.#claim(tx, due, now, records)
        if (claim !== null) claimed.push(claim)
      }
      await this.#executions.insertMany(tx, records)
      return claimed
    })
    for (const claim of claims) this.#start(claim)
    return claims.length
  }

  /** Resolves when every run started so far has finished and been recorded. */
  idle(): Promise<void> {
    return this.#loop.idle()
  }

  close(): Promise<void> {
    return this.#loop.close()
  }

  async #plan(now: Date): Promise<void> {
    await this.#db.system(async (tx) => {
      for (const script of await this.#fires.unplanned(tx, this.#batchSize)) {
        try {
          await this.#fires.setNextRun(tx, script.id, this.#schedule(script.expression, script.timezone).next(now))
        } catch (error) {
          // Refused at the API; a row written otherwise stays unplanned and is reported once.
          const key = `${script.id}|${script.expression}|${script.timezone}`
          if (!this.#badPlans.has(key)) this.#logger.warn({ err: error, scriptId: script.id }, 'cron expression cannot be planned')
          this.#badPlans.add(key)
        }
      }
    })
  }

  async #claim(tx: Tx, due: DueCron, now: Date, records: ExecutionRecord[]): Promise<Claim | null> {
    const schedule = this.#schedule(due.expression, due.timezone)
    for (const lost of await this.#fires.abandonExpired(tx, due.scriptId, now)) {
      this.#metrics.cronFire('abandoned')
      records.push(this.#record(due, lost.executionId, lost.scheduledAt, 'failed', {
        code: 'CRON_FIRE_ABANDONED',
        message: `the process running this fire (${lost.claimedBy}) stopped before it finished`,
      }))
    }
    let slot = due.nextRunAt
    let missed = 0
    if (now.getTime() - slot.getTime() > this.#toleranceMs) {
      const { count, latest, exact } = missedSlots(schedule, slot, now)
      const skipped = this.#policy === 'skip' ? count : count - 1
      if (skipped > 0) {
        const executionId = randomUUID()
        await this.#fires.insertFire(tx, { scriptId: due.scriptId, tenantId: due.tenantId, scheduledAt: slot, executionId, status: 'skipped', reason: 'missed', missed: skipped, claimedBy: this.#instance, leaseUntil: null }, now)
        this.#metrics.cronFire('skipped')
        records.push(this.#record(due, executionId, slot, 'skipped', {
          code: 'CRON_SLOTS_MISSED',
          message: `${exact ? '' : 'at least '}${skipped} slot(s) from ${slot.toISOString()} were missed while no process ran (policy ${this.#policy})`,
        }))
      }
      if (this.#policy === 'skip') {
        await this.#fires.setNextRun(tx, due.scriptId, schedule.next(now))
        return null
      }
      slot = latest
      missed = skipped
    }
    await this.#fires.setNextRun(tx, due.scriptId, schedule.next(slot))
    const executionId = randomUUID()
    if (await this.#fires.hasRunning(tx, due.scriptId)) {
      await this.#fires.insertFire(tx, { scriptId: due.scriptId, tenantId: due.tenantId, scheduledAt: slot, executionId, status: 'skipped', reason: 'overlap', missed: 0, claimedBy: this.#instance, leaseUntil: null }, now)
      this.#metrics.cronFire('skipped')
      records.push(this.#record(due, executionId, slot, 'skipped', { code: 'CRON_OVERLAP', message: 'the previous fire of this script was still running' }))
      return null
    }
    const timeoutMs = mergeLimits(this.#defaults, due.limits).timeoutMs
    const leaseUntil = new Date(now.getTime() + timeoutMs + this.#leaseMarginMs)
    const claimed = await this.#fires.insertFire(tx, { scriptId: due.scriptId, tenantId: due.tenantId, scheduledAt: slot, executionId, status: 'running', reason: null, missed, claimedBy: this.#instance, leaseUntil }, now)
    if (!claimed) return null
    await this.#fires.markStarted(tx, due.scriptId, now)
    return { due, scheduledAt: slot, executionId, startedAt: now, missed }
  }

  #start(claim: Claim): void {
    this.#loop.track(this.#execute(claim).catch((error: unknown) => this.#logger.error({ err: error, scriptId: claim.due.scriptId }, 'could not record a cron fire')))
  }

  async #execute(claim: Claim): Promise<void> {
    const { due } = claim
    const input = {
      type: 'scheduled',
      cron: due.expression,
      timezone: due.timezone,
      scheduledTime: claim.scheduledAt.getTime(),
      missedSlots: claim.missed,
    }
    const result = await runSafely(this.#executor, runTask({
      kind: 'scheduled',
      program: { tenantId: due.tenantId, scriptId: due.scriptId, version: due.version, sourceHash: due.sourceHash, source: due.source },
      input,
      env: due.env,
      defaults: this.#defaults,
      limits: due.limits,
      executionId: claim.executionId,
    }))
    const record = recordOf({ id: claim.executionId, tenantId: due.tenantId, scriptId: due.scriptId, scriptVersion: due.version, trigger: 'cron', input, startedAt: claim.startedAt }, result)
    await this.#db.system(async (tx) => {
      await this.#fires.finish(tx, { scriptId: due.scriptId, scheduledAt: claim.scheduledAt, startedAt: claim.startedAt, status: record.status as 'completed' }, new Date(this.#clock.now()))
      await this.#executions.insertMany(tx, [record])
    })
    this.#metrics.cronFire(record.status === 'completed' || record.status === 'timeout' ? record.status : 'failed')
  }

  #record(due: DueCron, id: string, slot: Date, status: 'skipped' | 'failed', error: { code: string; message: string }): ExecutionRecord {
    const now = new Date(this.#clock.now())
    return unrunRecord(
      {
        id,
        tenantId: due.tenantId,
        scriptId: due.scriptId,
        scriptVersion: due.version,
        trigger: 'cron',
        status,
        input: { type: 'scheduled', cron: due.expression, timezone: due.timezone, scheduledTime: slot.getTime() },
        createdAt: now,
        startedAt: null,
        finishedAt: now,
      },
      error,
    )
  }

  #schedule(expression: string, timezone: string): CronSchedule {
    const key = `${expression}|${timezone}`
    let schedule = this.#schedules.get(key)
    if (schedule === undefined) {
      schedule = CronSchedule.parse(expression, timezone)
      if (this.#schedules.size > 10_000) this.#schedules.clear()
      this.#schedules.set(key, schedule)
    }
    return schedule
  }
}

/** The slots from `first` up to `now`: how many, and the latest (counted exactly up to a cap). */
function missedSlots(schedule: CronSchedule, first: Date, now: Date): { count: number; latest: Date; exact: boolean } {
  let count = 1
  let latest = first
  for (let next = schedule.next(first); next !== null && next <= now; next = schedule.next(next)) {
    if (count >= MAX_MISSED_COUNT) return { count, latest: latestBefore(schedule, now) ?? latest, exact: false }
    latest = next
    count++
  }
  return { count, latest, exact: true }
}

/** The last slot at or before `now`, found by probing back over growing windows. */
function latestBefore(schedule: CronSchedule, now: Date): Date | null {
  for (const window of [2_000, 60_000, 3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000]) {
    let found: Date | null = null
    for (let next = schedule.next(new Date(now.getTime() - window)); next !== null && next <= now; next = schedule.next(next)) found = next
    if (found !== null) return found
  }
  return null
}
