/**
 * The nearest-rank percentile of ascending `sorted` values: the least value with `quantile` of
 * them at or below it. Every latency row of the bench uses it (loads, the runner's start times,
 * the runner hop, the cache round trip), so their medians and tails mean the same.
 */
export function percentile(sorted: readonly number[], quantile: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.max(1, Math.ceil(quantile * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1] as number
}
