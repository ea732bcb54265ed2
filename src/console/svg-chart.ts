import { html, type Html } from './html.js'

/** A series of one value per slot (null: no data); drawn solid or dashed so colour is never the only cue. */
export interface Series {
  label: string
  values: Array<number | null>
  dashed?: boolean
}

export interface ChartOptions {
  title: string
  /** Labels of the slots (x axis); the first, middle and last are printed. */
  slots: string[]
  /** Formats an axis value. */
  format: (value: number) => string
  width?: number
  height?: number
}

const PAD = { left: 56, right: 12, top: 12, bottom: 26 }

function scale(max: number): number {
  if (max <= 0) return 1
  const magnitude = 10 ** Math.floor(Math.log10(max))
  for (const step of [1, 2, 2.5, 5, 10]) if (max <= step * magnitude) return step * magnitude
  return 10 * magnitude
}

function frame(options: ChartOptions, top: number, body: Html, legend: Html): Html {
  const width = options.width ?? 560
  const height = options.height ?? 180
  const innerH = height - PAD.top - PAD.bottom
  const innerW = width - PAD.left - PAD.right
  const n = options.slots.length
  const ticks = [0, 0.5, 1].map((f) => ({ y: PAD.top + innerH * (1 - f), label: options.format(top * f) }))
  // First label starts at its slot, the last ends at its slot: none is clipped at the edges.
  const xLabels = n === 0 ? [] : ([[0, 'start'], [Math.floor((n - 1) / 2), 'middle'], [n - 1, 'end']] as const).map(([i, anchor]) => ({ x: PAD.left + ((anchor === 'start' ? i : anchor === 'end' ? i + 1 : i + 0.5) * innerW) / n, label: options.slots[i] ?? '', anchor }))
  return html`<figure class="chart"><svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${options.title}" class="chart-svg">
<title>${options.title}</title>
${ticks.map((tick) => html`<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${tick.y}" y2="${tick.y}" class="grid"/><text x="${PAD.left - 6}" y="${tick.y + 4}" text-anchor="end" class="axis">${tick.label}</text>`)}
${xLabels.map((label) => html`<text x="${label.x}" y="${height - 8}" text-anchor="${label.anchor}" class="axis">${label.label}</text>`)}
${body}
</svg><figcaption>${options.title} ${legend}</figcaption></figure>`
}

/** Bars per slot; `highlight` (errors) is drawn over each bar hatched, not only coloured. */
export function barChart(options: ChartOptions, bars: Series, highlight?: Series): Html {
  const width = options.width ?? 560
  const height = options.height ?? 180
  const innerW = width - PAD.left - PAD.right
  const innerH = height - PAD.top - PAD.bottom
  const top = scale(Math.max(0, ...bars.values.map((v) => v ?? 0)))
  const n = Math.max(1, options.slots.length)
  const slotW = innerW / n
  const y = (v: number) => PAD.top + innerH * (1 - v / top)
  const rects = bars.values.map((value, i) => {
    const x = PAD.left + i * slotW + slotW * 0.15
    const w = Math.max(1, slotW * 0.7)
    const bad = highlight?.values[i] ?? 0
    return html`${value ? html`<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${w.toFixed(1)}" height="${(PAD.top + innerH - y(value)).toFixed(1)}" class="bar"><title>${options.slots[i]}: ${bars.label} ${options.format(value)}</title></rect>` : ''}${
      bad ? html`<rect x="${x.toFixed(1)}" y="${y(bad).toFixed(1)}" width="${w.toFixed(1)}" height="${(PAD.top + innerH - y(bad)).toFixed(1)}" class="bar-bad" fill="url(#hatch)"><title>${options.slots[i]}: ${highlight?.label} ${options.format(bad)}</title></rect>` : ''
    }`
  })
  const defs = html`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-bg"/><line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/></pattern></defs>`
  const legend = html`<span class="legend"><span class="key key-bar" aria-hidden="true"></span>${bars.label}${highlight ? html` <span class="key key-bad" aria-hidden="true"></span>${highlight.label}` : ''}</span>`
  return frame(options, top, html`${defs}${rects}`, legend)
}

/** Lines per series; the second and later may be dashed. Gaps (null) break a line. */
export function lineChart(options: ChartOptions, series: Series[]): Html {
  const width = options.width ?? 560
  const height = options.height ?? 180
  const innerW = width - PAD.left - PAD.right
  const innerH = height - PAD.top - PAD.bottom
  const top = scale(Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0))))
  const n = Math.max(1, options.slots.length)
  const x = (i: number) => PAD.left + ((i + 0.5) * innerW) / n
  const y = (v: number) => PAD.top + innerH * (1 - v / top)
  const paths = series.map((s) => {
    let d = ''
    let pen = false
    s.values.forEach((value, i) => {
      if (value === null) {
        pen = false
        return
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)} ${y(value).toFixed(1)} `
      pen = true
    })
    const dots = s.values.map((value, i) => (value === null ? '' : html`<circle cx="${x(i).toFixed(1)}" cy="${y(value).toFixed(1)}" r="2" class="${s.dashed ? 'dot dot-alt' : 'dot'}"><title>${options.slots[i]}: ${s.label} ${options.format(value)}</title></circle>`))
    return html`<path d="${d.trim()}" class="${s.dashed ? 'line line-alt' : 'line'}" fill="none"/>${dots}`
  })
  const legend = html`<span class="legend">${series.map((s) => html`<span class="${s.dashed ? 'key key-line-alt' : 'key key-line'}" aria-hidden="true"></span>${s.label} `)}</span>`
  return frame(options, top, html`${paths}`, legend)
}
