/** The sum over every label set of one metric in a Prometheus text exposition (0 when it is absent). */
export function metricTotal(text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line)
    if (match) sum += Number(match[2])
  }
  return sum
}
