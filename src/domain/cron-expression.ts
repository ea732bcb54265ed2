import { cronIssue } from './cron-schedule.js'

/** Time zones are checked where schedules are computed, with the same Intl the scheduler uses. */
export { isTimeZone } from './cron-schedule.js'

/**
 * Why a cron expression is refused, or null when it is valid: 5 fields (minute hour
 * day-of-month month day-of-week) or 6 with a leading seconds field, names like MON and JAN
 * allowed. The message starts with the bad field. The same parser fires it (cron-schedule.ts),
 * so what the API accepts is what the scheduler can run.
 */
export function cronExpressionIssue(expression: string): string | null {
  const issue = cronIssue(expression)
  return issue === null ? null : `${issue.field}: ${issue.message}`
}
