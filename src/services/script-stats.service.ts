import type { Database } from '../db/database.js'
import type { ExecutionRollupRepository } from '../db/execution-rollup.repository.js'
import type { ScriptRepository } from '../db/script.repository.js'
import type { Principal } from '../domain/auth.js'
import {
  emptyCounts,
  MAX_STATS_BUCKETS,
  mergeCounts,
  MINUTE_MS,
  parseStep,
  statsQuery,
  summarize,
  type RunSummary,
} from '../domain/execution-rollup.js'
import { isUuid } from '../domain/page.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requirePermission } from './auth.service.js'
import { parseInput } from './validation.js'

export interface ScriptStats {
  scriptId: string
  from: string
  to: string
  /** Bucket width in seconds. */
  stepSeconds: number
  /** Every bucket from `from` to `to`, empty ones included. */
  buckets: Array<RunSummary & { start: string }>
  totals: RunSummary
}

const HOUR_MS = 60 * MINUTE_MS
/** Widths tried for the default step, smallest first. */
const NICE_STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((minutes) => minutes * MINUTE_MS)

export interface ScriptStatsServiceOptions {
  db: Database
  rollups: ExecutionRollupRepository
  scripts: ScriptRepository
  /** The clock, for tests. */
  now?: () => number
}

/**
 * A script's run counts over time, from the per-minute rollups of every gateway process: exact
 * counts (every run, sampled or not), failures by code, status classes, duration and CPU
 * percentiles from fixed-bucket histograms, bytes in and out.
 */
export class ScriptStatsService {
  readonly #db: Database
  readonly #rollups: ExecutionRollupRepository
  readonly #scripts: ScriptRepository
  readonly #now: () => number

  constructor(options: ScriptStatsServiceOptions) {
    this.#db = options.db
    this.#rollups = options.rollups
    this.#scripts = options.scripts
    this.#now = options.now ?? Date.now
  }

  async stats(principal: Principal, tenant: Tenant, id: string, query: unknown): Promise<ScriptStats> {
    requirePermission(principal, 'scripts.read')
    const input = parseInput(statsQuery, query ?? {})
    if (!isUuid(id)) throw new AppError('SCRIPT_NOT_FOUND')
    // Minutes are the unit: a range is widened to whole minutes.
    const to = ceilMinute(input.to === undefined ? this.#now() : Date.parse(input.to))
    const from = floorMinute(input.from === undefined ? to - HOUR_MS : Date.parse(input.from))
    if (from >= to) throw invalid('from', 'must be before to')
    const range = to - from
    const step = input.step === undefined ? defaultStep(range) : (parseStep(input.step) as number)
    const count = Math.ceil(range / step)
    if (count > MAX_STATS_BUCKETS) throw invalid('step', `gives ${count} buckets for this range; at most ${MAX_STATS_BUCKETS}: widen the step or narrow the range`)

    const rows = await this.#db.tenant(tenant.id, async (tx) => {
      if ((await this.#scripts.findById(tx, id)) === null) throw new AppError('SCRIPT_NOT_FOUND')
      return this.#rollups.buckets(tx, id, new Date(from), new Date(to), step)
    })
    const byStart = new Map(rows.map((row) => [row.start.getTime(), row.counts]))
    const total = emptyCounts()
    const buckets: ScriptStats['buckets'] = []
    for (let start = from; start < to; start += step) {
      const counts = byStart.get(start) ?? emptyCounts()
      mergeCounts(total, counts)
      buckets.push({ start: new Date(start).toISOString(), ...summarize(counts) })
    }
    return { scriptId: id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), stepSeconds: step / 1000, buckets, totals: summarize(total) }
  }
}

function floorMinute(ms: number): number {
  return ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS)
}

function ceilMinute(ms: number): number {
  const floor = floorMinute(ms)
  return floor === ms ? ms : floor + MINUTE_MS
}

/** The smallest nice width that gives at most 60 buckets (a day per bucket past that). */
function defaultStep(range: number): number {
  for (const step of NICE_STEPS_MS) if (range / step <= 60) return step
  const day = 24 * HOUR_MS
  return Math.max(day, Math.ceil(range / MAX_STATS_BUCKETS / day) * day)
}

function invalid(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${field}: ${message}`, { fields: [{ field, message }] })
}
