import { Cron } from 'croner'
import nodeCron from 'node-cron'

/**
 * A cron schedule in an IANA time zone, with ISC/Vixie cron's rules (README, "Cron schedules"):
 *
 * - 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field.
 * - When day-of-month and day-of-week are both restricted, a day matching EITHER fires.
 * - A fixed-time schedule (neither minute nor hour starts with `*`) whose local time falls in a
 *   spring-forward gap fires once, at the first valid instant after the gap (the transition).
 *   One whose time falls in the repeated fall-back hour fires once, at the first occurrence.
 * - A schedule with `*` in the minute or hour field runs on the wall clock as it is: nothing in
 *   the gap, and again in the repeated hour, so `30 * * * *` stays hourly through both changes.
 *
 * Why not one library as is: croner (the one used to match fields) moves a gap fire by the gap's
 * length (02:30 -> 03:30, not 03:00) and drops the repeated hour of a wildcard schedule, and
 * node-cron 4.6.0 fires fall-back times at the second occurrence east of UTC and ANDs the day
 * fields. So croner walks the LOCAL wall clock (as if it were UTC, where nothing repeats or is
 * skipped) and this module maps each local time to instants with the rules above. node-cron's
 * field validator names the bad field, which croner's messages do not always do.
 *
 * @example
 * const schedule = CronSchedule.parse('30 2 * * *', 'America/New_York')
 * schedule.next(new Date('2025-03-09T05:00:00Z')) // 2025-03-09T07:00:00Z (03:00 EDT, the gap's end)
 */
export class CronSchedule {
  readonly expression: string
  readonly timezone: string
  /** True when neither minute nor hour is a wildcard: the DST gap/overlap rules apply. */
  readonly fixedTime: boolean
  readonly #local: Cron

  private constructor(expression: string, timezone: string, local: Cron, fixedTime: boolean) {
    this.expression = expression
    this.timezone = timezone
    this.#local = local
    this.fixedTime = fixedTime
  }

  /** Parses an expression; throws CronSyntaxError naming the field (or `timezone`). */
  static parse(expression: string, timezone = 'UTC'): CronSchedule {
    const issue = cronIssue(expression, timezone)
    if (issue !== null) throw new CronSyntaxError(issue.field, issue.message)
    const pattern = expand(expression.trim())
    const fields = pattern.split(/\s+/)
    const [minute, hour] = fields.length === 6 ? [fields[1], fields[2]] : [fields[0], fields[1]]
    const fixedTime = !minute!.startsWith('*') && !hour!.startsWith('*')
    const local = new Cron(pattern, { timezone: 'UTC', paused: true, mode: '5-or-6-parts', domAndDow: false })
    return new CronSchedule(expression.trim(), timezone, local, fixedTime)
  }

  /** The first fire instant strictly after `after`, or null when there is none. */
  next(after: Date): Date | null {
    const afterMs = after.getTime()
    const around = offsetsAround(afterMs, this.timezone)
    // Local time L fires at L - offset, later than `after` only when L > after + offset: the
    // walk starts at the smallest offset in force, which in a repeated hour is the later one.
    let cursor: Date | null = new Date(afterMs + around.min - 1000)
    let best: number | null = null
    for (let steps = 0; steps < MAX_STEPS; steps++) {
      cursor = this.#local.nextRun(cursor)
      if (cursor === null) return best === null ? null : new Date(best)
      const naive = cursor.getTime()
      const offsets = offsetsAround(naive - around.max, this.timezone)
      if (best !== null && naive - offsets.max > best) break
      for (const instant of this.#instants(naive, offsets)) {
        if (instant > afterMs && (best === null || instant < best)) best = instant
      }
      if (best !== null && offsets.max === offsets.min) break
    }
    return best === null ? null : new Date(best)
  }

  /** The next `count` fire instants after `after`. */
  nextN(after: Date, count: number): Date[] {
    const runs: Date[] = []
    let cursor: Date | null = after
    while (runs.length < count && cursor !== null) {
      cursor = this.next(cursor)
      if (cursor !== null) runs.push(cursor)
    }
    return runs
  }

  /** The instants a local wall-clock time (ms as if UTC) fires at, under the rules above. */
  #instants(naive: number, offsets: { min: number; max: number }): number[] {
    const candidates = [...new Set([naive - offsets.max, naive - offsets.min])].sort((a, b) => a - b)
    const valid = candidates.filter((instant) => offsetAt(instant, this.timezone) === naive - instant)
    if (valid.length === 0) return this.fixedTime ? [transitionAfter(naive - offsets.max, naive - offsets.min, this.timezone)] : []
    return this.fixedTime ? [valid[0]!] : valid
  }
}

export class CronSyntaxError extends Error {
  override readonly name = 'CronSyntaxError'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** Croner steps one local time per call; a year of a per-second schedule is not walked. */
const MAX_STEPS = 100_000

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

function expand(expression: string): string {
  return NICKNAMES[expression.toLowerCase()] ?? expression
}

/**
 * Why an expression (or time zone) is refused, naming the field, or null when it is valid.
 * Fields: second, minute, hour, dayOfMonth, month, dayOfWeek; `expression` for the whole.
 */
export function cronIssue(expression: string, timezone = 'UTC'): { field: string; message: string } | null {
  if (!isTimeZone(timezone)) return { field: 'timezone', message: `${JSON.stringify(timezone)} is not an IANA time zone such as UTC or Europe/Paris` }
  const pattern = expand(expression.trim())
  const count = pattern.split(/\s+/).length
  if (count !== 5 && count !== 6) {
    return { field: 'expression', message: `must have 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field, got ${count}` }
  }
  const detailed = nodeCron.validateDetailed(pattern)
  const first = detailed.errors[0]
  if (first !== undefined) return { field: first.field, message: `${JSON.stringify(first.value ?? '')} is not valid for ${first.field}` }
  try {
    new Cron(pattern, { timezone: 'UTC', paused: true, mode: '5-or-6-parts', domAndDow: false })
  } catch (error) {
    return { field: 'expression', message: (error as Error).message.replace(/^CronPattern: /, '') }
  }
  return null
}

/** True for an IANA time zone the runtime knows (`UTC`, `Europe/Paris`). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name })
    return true
  } catch {
    // Intl throws RangeError for an unknown zone: that is the answer, not a failure.
    return false
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>()

/** The zone's UTC offset (ms) at an instant: local wall time minus UTC. */
export function offsetAt(instant: number, timezone: string): number {
  let format = formatters.get(timezone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timezone, format)
  }
  const parts: Record<string, number> = {}
  for (const part of format.formatToParts(new Date(instant))) if (part.type !== 'literal') parts[part.type] = Number(part.value)
  const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!)
  return local - Math.floor(instant / 1000) * 1000
}

/**
 * The offsets in force within a day of an instant. Real zones change offset at most a few times
 * a year, so a window of ±1 day holds at most one change: at most two offsets.
 */
function offsetsAround(instant: number, timezone: string): { min: number; max: number } {
  const DAY = 86_400_000
  const a = offsetAt(instant - DAY, timezone)
  const b = offsetAt(instant + DAY, timezone)
  return { min: Math.min(a, b), max: Math.max(a, b) }
}

/** The first instant in (from, to] whose offset differs from the one at `from`: a transition. */
function transitionAfter(from: number, to: number, timezone: string): number {
  const start = offsetAt(from, timezone)
  let low = from
  let high = to
  while (high - low > 1000) {
    const middle = low + Math.floor((high - low) / 2000) * 1000
    if (offsetAt(middle, timezone) === start) low = middle
    else high = middle
  }
  return high
}
