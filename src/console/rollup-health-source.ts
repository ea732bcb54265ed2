import type { Database } from '../db/database.js'
import type { ExecutionMinuteRepository } from '../db/execution-minute.repository.js'
import type { ExecutionRollupRepository } from '../db/execution-rollup.repository.js'
import type { Principal } from '../domain/auth.js'
import { mergeCounts, MINUTE_MS, summarize, type RunCounts } from '../domain/execution-rollup.js'
import type { Tenant } from '../domain/tenant.js'
import { requirePermission } from '../services/auth.service.js'
import type { HealthSource, HealthWindow, MinuteStats } from './health-source.js'

export interface RollupHealthSourceOptions {
  db: Database
  rollups: ExecutionRollupRepository
  records: ExecutionMinuteRepository
}

/**
 * Health from the per-minute rollups (issue 15): every HTTP run counted exactly, whatever the
 * records' tail sampling kept, with percentiles from the rollups' fixed-bucket histograms (the
 * same numbers as `GET /scripts/{id}/stats`). Runs the rollups do not count (manual, cron and
 * event runs, HTTP runs of a script with no rollup in the window) come from the execution records,
 * bucketed into the same histograms, and are added in. The current minute lags by at most a
 * gateway's rollup write interval (ISOGATE_ROLLUP_FLUSH_MS, 2 s by default).
 *
 * @example
 * const health = new RollupHealthSource({ db, rollups: new ExecutionRollupRepository(), records: new ExecutionMinuteRepository() })
 * const minutes = await health.minutes(principal, tenant, lastMinutes(new Date(), 60))
 */
export class RollupHealthSource implements HealthSource {
  readonly #db: Database
  readonly #rollups: ExecutionRollupRepository
  readonly #records: ExecutionMinuteRepository

  constructor(options: RollupHealthSourceOptions) {
    this.#db = options.db
    this.#rollups = options.rollups
    this.#records = options.records
  }

  async minutes(principal: Principal, tenant: Tenant, window: HealthWindow): Promise<MinuteStats[]> {
    requirePermission(principal, 'scripts.read')
    const from = new Date(floorMinute(window.from.getTime()))
    const to = new Date(floorMinute(window.to.getTime() - 1) + MINUTE_MS)
    if (from >= to) return []
    const { scriptId } = window
    const [rolled, recorded] = await this.#db.tenant(tenant.id, async (tx) => [
      scriptId === undefined ? await this.#rollups.tenantBuckets(tx, tenant.id, from, to, MINUTE_MS) : await this.#rollups.buckets(tx, scriptId, from, to, MINUTE_MS),
      await this.#records.unrolled(tx, { tenantId: tenant.id, scriptId, from, to }),
    ])
    const byMinute = new Map<number, RunCounts>()
    for (const { start, counts } of [...rolled, ...recorded]) {
      const at = start.getTime()
      const into = byMinute.get(at)
      if (into === undefined) byMinute.set(at, counts)
      else mergeCounts(into, counts)
    }
    return [...byMinute.entries()]
      .filter(([, counts]) => counts.runs > 0)
      .sort((a, b) => a[0] - b[0])
      .map(([at, counts]) => {
        const summary = summarize(counts)
        return { minute: new Date(at), runs: summary.runs, errors: summary.byCode, p50Ms: summary.p50Ms, p99Ms: summary.p99Ms, cpuP50Ms: summary.cpuP50Ms, cpuP99Ms: summary.cpuP99Ms }
      })
  }
}

function floorMinute(ms: number): number {
  return ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS)
}
