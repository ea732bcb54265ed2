import type { MinuteStats } from '../health-source.js'
import { html, type Html } from '../html.js'
import type { Translator } from '../i18n/translator.js'
import { barChart, lineChart } from '../svg-chart.js'

/** The last `minutes` minutes ending at `to`, one slot each, empty minutes as zero runs. */
export function healthCharts(t: Translator, stats: MinuteStats[], to: Date, minutes: number): Html {
  const end = Math.floor(to.getTime() / 60_000) * 60_000
  const start = end - (minutes - 1) * 60_000
  const byMinute = new Map(stats.map((s) => [s.minute.getTime(), s]))
  const slots: MinuteStats[] = []
  for (let at = start; at <= end; at += 60_000) {
    slots.push(byMinute.get(at) ?? { minute: new Date(at), runs: 0, errors: {}, p50Ms: null, p99Ms: null, cpuP50Ms: null, cpuP99Ms: null })
  }
  const clock = new Intl.DateTimeFormat(t.tag, { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' })
  const labels = slots.map((s) => clock.format(s.minute))
  const errorsOf = (s: MinuteStats) => Object.values(s.errors).reduce((a, b) => a + b, 0)
  // The totals are of the minutes shown, never of a minute the source answered outside them.
  const totals = new Map<string, number>()
  for (const s of slots) for (const [code, n] of Object.entries(s.errors)) totals.set(code, (totals.get(code) ?? 0) + n)
  const runs = slots.reduce((sum, s) => sum + s.runs, 0)
  const failed = [...totals.values()].reduce((a, b) => a + b, 0)
  const count = (v: number) => t.number(v, { maximumFractionDigits: 1 })
  const ms = (v: number) => t.duration(v)
  return html`<p class="muted health-summary" data-runs="${runs}" data-failures="${failed}">${t.t('health.window', { count: minutes })} · ${t.t('health.runs', { count: runs })} · ${t.t('health.failures', { count: failed })}</p>
<div class="charts">
${barChart({ title: t.t('health.runsChart'), slots: labels, format: count }, { label: t.t('health.allRuns'), values: slots.map((s) => s.runs) }, { label: t.t('health.errors'), values: slots.map(errorsOf) })}
${lineChart({ title: t.t('health.durationChart'), slots: labels, format: ms }, [
  { label: 'p50', values: slots.map((s) => s.p50Ms) },
  { label: 'p99', values: slots.map((s) => s.p99Ms), dashed: true },
])}
${lineChart({ title: t.t('health.cpuChart'), slots: labels, format: ms }, [
  { label: 'p50', values: slots.map((s) => s.cpuP50Ms) },
  { label: 'p99', values: slots.map((s) => s.cpuP99Ms), dashed: true },
])}
<figure class="chart"><figcaption>${t.t('health.errorsByCode')}</figcaption>
${totals.size === 0 ? html`<p>${t.t('health.noErrors')}</p>` : html`<table><thead><tr><th scope="col">${t.t('health.code')}</th><th scope="col">${t.t('health.count')}</th></tr></thead><tbody>${[...totals.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => html`<tr data-code="${code}" data-count="${n}"><td>${t.enum('code', code)} <code>${code}</code></td><td>${t.number(n)}</td></tr>`)}</tbody></table>`}
</figure>
</div>`
}
