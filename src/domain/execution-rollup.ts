import { z } from 'zod'

/**
 * Upper bounds (ms) of the fixed histogram buckets for run duration and CPU time; one more bucket
 * holds everything above the last bound. Fine at the low end, where hot runs live (tens of
 * microseconds to a few ms), coarse above a second. Never reorder or change a bound: stored
 * rollups are arrays indexed by these buckets (append a new bound only with a migration).
 */
export const HISTOGRAM_BOUNDS_MS: readonly number[] = [
  0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000,
]
export const HISTOGRAM_SIZE = HISTOGRAM_BOUNDS_MS.length + 1

/** One finished run as the rollups see it: no record, just what is counted. */
export interface RunObservation {
  tenantId: string
  scriptId: string
  /** When the run finished (epoch ms): the minute it counts in. */
  at: number
  ok: boolean
  /** The error code of a run that did not complete. */
  code: string | null
  /** The HTTP status answered; null for runs without one (manual, cron, event). */
  status: number | null
  durationMs: number
  cpuMs: number
  bytesIn: number
  bytesOut: number
}

/** What a rollup counts: for one script, one minute and one gateway process, or summed. */
export interface RunCounts {
  runs: number
  completed: number
  failed: number
  byCode: Record<string, number>
  /** Answers by status class: 1xx .. 5xx. */
  http: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number }
  durationSumMs: number
  cpuSumMs: number
  durationHist: number[]
  cpuHist: number[]
  bytesIn: number
  bytesOut: number
}

export function emptyCounts(): RunCounts {
  return {
    runs: 0,
    completed: 0,
    failed: 0,
    byCode: {},
    http: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    durationSumMs: 0,
    cpuSumMs: 0,
    durationHist: new Array<number>(HISTOGRAM_SIZE).fill(0),
    cpuHist: new Array<number>(HISTOGRAM_SIZE).fill(0),
    bytesIn: 0,
    bytesOut: 0,
  }
}

/** The bucket a value falls in (binary search over the bounds; a value on a bound is in its bucket). */
export function bucketOf(ms: number): number {
  let lo = 0
  let hi = HISTOGRAM_BOUNDS_MS.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ms <= (HISTOGRAM_BOUNDS_MS[mid] as number)) hi = mid
    else lo = mid + 1
  }
  return lo
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** Counts one run in. */
export function addRun(counts: RunCounts, run: RunObservation): void {
  counts.runs++
  if (run.ok) counts.completed++
  else {
    counts.failed++
    const code = run.code ?? 'UNKNOWN'
    counts.byCode[code] = (counts.byCode[code] ?? 0) + 1
  }
  if (run.status !== null) {
    const cls = STATUS_CLASSES[Math.floor(run.status / 100) - 1]
    if (cls !== undefined) counts.http[cls]++
  }
  const duration = run.durationMs > 0 ? run.durationMs : 0
  const cpu = run.cpuMs > 0 ? run.cpuMs : 0
  counts.durationSumMs += duration
  counts.cpuSumMs += cpu
  ;(counts.durationHist[bucketOf(duration)] as number)++
  ;(counts.cpuHist[bucketOf(cpu)] as number)++
  counts.bytesIn += run.bytesIn
  counts.bytesOut += run.bytesOut
}

/** Adds `more` into `into`. */
export function mergeCounts(into: RunCounts, more: RunCounts): void {
  into.runs += more.runs
  into.completed += more.completed
  into.failed += more.failed
  for (const [code, n] of Object.entries(more.byCode)) into.byCode[code] = (into.byCode[code] ?? 0) + n
  for (const cls of STATUS_CLASSES) into.http[cls] += more.http[cls]
  into.durationSumMs += more.durationSumMs
  into.cpuSumMs += more.cpuSumMs
  for (let i = 0; i < HISTOGRAM_SIZE; i++) {
    into.durationHist[i] = (into.durationHist[i] ?? 0) + (more.durationHist[i] ?? 0)
    into.cpuHist[i] = (into.cpuHist[i] ?? 0) + (more.cpuHist[i] ?? 0)
  }
  into.bytesIn += more.bytesIn
  into.bytesOut += more.bytesOut
}

/**
 * The q-quantile (0..1) of a histogram in ms, interpolated linearly inside its bucket; null when
 * it is empty. Values in the last (open) bucket answer its lower bound.
 */
export function quantileMs(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((sum, n) => sum + n, 0)
  if (total === 0) return null
  const rank = q * total
  let seen = 0
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i] ?? 0
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : (HISTOGRAM_BOUNDS_MS[i - 1] as number)
      const upper = HISTOGRAM_BOUNDS_MS[i]
      if (upper === undefined) return lower
      return round(lower + ((rank - seen) / n) * (upper - lower))
    }
    seen += n
  }
  return round(HISTOGRAM_BOUNDS_MS[HISTOGRAM_BOUNDS_MS.length - 1] as number)
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/** Counts as the stats endpoint answers them: the histograms become percentiles. */
export interface RunSummary {
  runs: number
  completed: number
  failed: number
  byCode: Record<string, number>
  http: RunCounts['http']
  meanMs: number | null
  p50Ms: number | null
  p95Ms: number | null
  p99Ms: number | null
  cpuMeanMs: number | null
  cpuP50Ms: number | null
  cpuP95Ms: number | null
  cpuP99Ms: number | null
  bytesIn: number
  bytesOut: number
}

export function summarize(counts: RunCounts): RunSummary {
  const mean = (sum: number) => (counts.runs === 0 ? null : round(sum / counts.runs))
  return {
    runs: counts.runs,
    completed: counts.completed,
    failed: counts.failed,
    byCode: counts.byCode,
    http: counts.http,
    meanMs: mean(counts.durationSumMs),
    p50Ms: quantileMs(counts.durationHist, 0.5),
    p95Ms: quantileMs(counts.durationHist, 0.95),
    p99Ms: quantileMs(counts.durationHist, 0.99),
    cpuMeanMs: mean(counts.cpuSumMs),
    cpuP50Ms: quantileMs(counts.cpuHist, 0.5),
    cpuP95Ms: quantileMs(counts.cpuHist, 0.95),
    cpuP99Ms: quantileMs(counts.cpuHist, 0.99),
    bytesIn: counts.bytesIn,
    bytesOut: counts.bytesOut,
  }
}

export const MINUTE_MS = 60_000
/** Most buckets one stats answer holds. */
export const MAX_STATS_BUCKETS = 1_440

const STEP = /^(\d+)([smhd])$/
const UNIT_MS = { s: 1_000, m: MINUTE_MS, h: 60 * MINUTE_MS, d: 24 * 60 * MINUTE_MS } as const

/** `60s`, `5m`, `1h`, `1d`: a whole number of minutes. */
export function parseStep(text: string): number | null {
  const match = STEP.exec(text)
  if (match === null) return null
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]
  return ms >= MINUTE_MS && ms % MINUTE_MS === 0 ? ms : null
}

/** Query string of `GET /scripts/{id}/stats`. */
export const statsQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional().describe('Start (inclusive), ISO 8601; default: `to` minus one hour'),
    to: z.iso.datetime({ offset: true }).optional().describe('End (exclusive), ISO 8601; default: now'),
    step: z
      .string()
      .refine((step) => parseStep(step) !== null, 'must be a whole number of minutes such as 1m, 5m, 1h or 1d')
      .optional()
      .describe('Bucket width: 1m, 5m, 1h, 1d ...; default: the smallest that gives at most 60 buckets'),
  })
  .strict()

export type StatsQuery = z.infer<typeof statsQuery>
