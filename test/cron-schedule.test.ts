import t from 'tap'
import { CronSchedule, cronIssue } from '../src/domain/cron-schedule.js'

/** The next `count` fires after `from`, as ISO strings (UTC). */
function runs(expression: string, timezone: string, from: string, count = 4): string[] {
  return CronSchedule.parse(expression, timezone).nextN(new Date(from), count).map((date) => date.toISOString())
}

t.test('day-of-month OR day-of-week when both are restricted (Vixie), AND is not used', async (t) => {
  // 13th of the month or any Friday: July 2025 has Fridays 4, 11, 18, 25 and the 13th is a Sunday.
  t.same(runs('0 0 13 * 5', 'UTC', '2025-07-01T00:00:00Z', 5), [
    '2025-07-04T00:00:00.000Z',
    '2025-07-11T00:00:00.000Z',
    '2025-07-13T00:00:00.000Z',
    '2025-07-18T00:00:00.000Z',
    '2025-07-25T00:00:00.000Z',
  ])
  // Only one restricted: the other field is ignored as in every cron.
  t.same(runs('0 0 * * 5', 'UTC', '2025-07-01T00:00:00Z', 2), ['2025-07-04T00:00:00.000Z', '2025-07-11T00:00:00.000Z'])
})

t.test('a fixed time in the spring-forward gap runs once, at the first valid instant after it', async (t) => {
  // New York, 2025-03-09: 02:00 EST -> 03:00 EDT (07:00Z). 02:30 does not exist: runs at 03:00 EDT.
  t.same(runs('30 2 * * *', 'America/New_York', '2025-03-08T12:00:00Z', 2), ['2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z'])
  // Two fixed times in the same gap still run once.
  t.same(runs('0,30 2 * * *', 'America/New_York', '2025-03-08T12:00:00Z', 2), ['2025-03-09T07:00:00.000Z', '2025-03-10T06:00:00.000Z'])
  // London, 2025-03-30: 01:00 GMT -> 02:00 BST (01:00Z).
  t.same(runs('30 1 * * *', 'Europe/London', '2025-03-29T12:00:00Z', 2), ['2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z'])
  // Athens, 2025-03-30: 03:00 EET -> 04:00 EEST (01:00Z).
  t.same(runs('30 3 * * *', 'Europe/Athens', '2025-03-29T12:00:00Z', 2), ['2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z'])
  // Sydney, 2025-10-05: 02:00 AEST -> 03:00 AEDT (2025-10-04T16:00Z).
  t.same(runs('30 2 * * *', 'Australia/Sydney', '2025-10-04T00:00:00Z', 2), ['2025-10-04T16:00:00.000Z', '2025-10-05T15:30:00.000Z'])
})

t.test('a fixed time in the repeated fall-back hour runs once, at its first occurrence', async (t) => {
  // New York, 2025-11-02: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST): only the first.
  t.same(runs('30 1 * * *', 'America/New_York', '2025-11-01T12:00:00Z', 2), ['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z'])
  // London, 2025-10-26: 01:30 BST (00:30Z), not 01:30 GMT (01:30Z).
  t.same(runs('30 1 * * *', 'Europe/London', '2025-10-25T12:00:00Z', 2), ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z'])
  // Berlin and Athens, east of UTC, where node-cron 4.6.0 picks the second occurrence.
  t.same(runs('30 2 * * *', 'Europe/Berlin', '2025-10-25T12:00:00Z', 2), ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z'])
  t.same(runs('30 3 * * *', 'Europe/Athens', '2025-10-25T12:00:00Z', 2), ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z'])
  // Sydney, 2025-04-06: 02:30 AEDT (2025-04-05T15:30Z), not 02:30 AEST.
  t.same(runs('30 2 * * *', 'Australia/Sydney', '2025-04-05T00:00:00Z', 2), ['2025-04-05T15:30:00.000Z', '2025-04-06T16:30:00.000Z'])
  // With a seconds field too.
  t.same(runs('15 30 1 * * *', 'America/New_York', '2025-11-01T12:00:00Z', 1), ['2025-11-02T05:30:15.000Z'])
})

t.test('a schedule with a wildcard hour keeps its interval through both changes', async (t) => {
  // Spring: 02:30 EST does not exist; hourly at :30 stays 60 minutes apart in real time.
  t.same(runs('30 * * * *', 'America/New_York', '2025-03-09T05:00:00Z', 4), [
    '2025-03-09T05:30:00.000Z',
    '2025-03-09T06:30:00.000Z',
    '2025-03-09T07:30:00.000Z',
    '2025-03-09T08:30:00.000Z',
  ])
  // Fall: 01:30 happens twice and runs twice (croner alone drops the second one).
  t.same(runs('30 * * * *', 'America/New_York', '2025-11-02T04:00:00Z', 4), [
    '2025-11-02T04:30:00.000Z',
    '2025-11-02T05:30:00.000Z',
    '2025-11-02T06:30:00.000Z',
    '2025-11-02T07:30:00.000Z',
  ])
  t.same(runs('*/20 * * * *', 'Europe/Berlin', '2025-10-26T00:30:00Z', 5), [
    '2025-10-26T00:40:00.000Z',
    '2025-10-26T01:00:00.000Z',
    '2025-10-26T01:20:00.000Z',
    '2025-10-26T01:40:00.000Z',
    '2025-10-26T02:00:00.000Z',
  ])
})

t.test('a leading seconds field makes per-second schedules', async (t) => {
  t.same(runs('*/15 * * * * *', 'UTC', '2025-01-01T00:00:00.500Z', 3), ['2025-01-01T00:00:15.000Z', '2025-01-01T00:00:30.000Z', '2025-01-01T00:00:45.000Z'])
  t.same(runs('* * * * * *', 'Asia/Tokyo', '2025-01-01T00:00:00Z', 2), ['2025-01-01T00:00:01.000Z', '2025-01-01T00:00:02.000Z'])
  t.same(runs('@daily', 'Asia/Kolkata', '2025-01-01T00:00:00Z', 1), ['2025-01-01T18:30:00.000Z'])
})

t.test('validation errors name the bad field', async (t) => {
  t.match(cronIssue('0 60 * * *'), { field: 'hour' })
  t.match(cronIssue('70 0 * * *'), { field: 'minute' })
  t.match(cronIssue('0 0 32 * *'), { field: 'dayOfMonth' })
  t.match(cronIssue('0 0 * 13 *'), { field: 'month' })
  t.match(cronIssue('0 0 * * 8'), { field: 'dayOfWeek' })
  t.match(cronIssue('61 * * * * *'), { field: 'second' })
  t.match(cronIssue('1 2 3'), { field: 'expression', message: /5 fields/ })
  t.match(cronIssue('0 0 * * *', 'Mars/Olympus'), { field: 'timezone' })
  t.equal(cronIssue('0 9 * * MON-FRI', 'Europe/Paris'), null)
  t.throws(() => CronSchedule.parse('0 0 * * 9'), { name: 'CronSyntaxError', field: 'dayOfWeek', message: /^dayOfWeek: / })
})
