import { cronIssue } from './cron-schedule.js'

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
