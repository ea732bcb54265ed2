/**
 * HTML by tagged template: every interpolated value is escaped unless it is already `Html`
 * (the result of another `html` template or of `raw`). Arrays are joined, null/undefined/false
 * render nothing. Escaping by default is the point: a template cannot forget it.
 *
 * @example
 * html`<td>${script.name}</td>`            // a name like <b> renders as text
 * html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`
 */
export class Html {
  readonly value: string
  constructor(value: string) {
    this.value = value
  }
  toString(): string {
    return this.value
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] as string)
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[]

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof Html) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] ?? '')
  return new Html(out)
}

/** Trusted markup (built by this code, never from input). */
export function raw(markup: string): Html {
  return new Html(markup)
}

/** `attr` when `on`, else nothing: `<input ${when(checked, 'checked')}>`. */
export function when(on: boolean, attribute: string): Html {
  return new Html(on ? attribute : '')
}
