import type { Principal } from '../domain/auth.js'
import type { Tenant } from '../domain/tenant.js'

/** One minute of a tenant's (or one script's) runs. */
export interface MinuteStats {
  minute: Date
  runs: number
  /** Failed runs by error code (a failure with no code counts as UNKNOWN). */
  errors: Record<string, number>
  p50Ms: number | null
  p99Ms: number | null
  cpuP50Ms: number | null
  cpuP99Ms: number | null
}

export interface HealthWindow {
  scriptId?: string | undefined
  /** Widened to whole minutes: the minute `from` falls in is the first one. */
  from: Date
  /** Widened to whole minutes: the minute `to` falls in is the last one (still running). */
  to: Date
}

/**
 * Where the console's health charts come from: per-minute runs, errors by code and percentiles
 * of one script or of a whole tenant. The implementation is RollupHealthSource (the exact
 * per-minute rollups, the execution records where there is no rollup).
 */
export interface HealthSource {
  /** Minutes with runs only, oldest first. */
  minutes(principal: Principal, tenant: Tenant, window: HealthWindow): Promise<MinuteStats[]>
}

/** The window of the last `minutes` minutes, the current one included, as the charts show it. */
export function lastMinutes(now: Date, minutes: number): { from: Date; to: Date } {
  const end = Math.floor(now.getTime() / 60_000) * 60_000
  return { from: new Date(end - (minutes - 1) * 60_000), to: new Date(end + 60_000) }
}
