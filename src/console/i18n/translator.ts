import { en } from './catalogue-en.js'
import { ru } from './catalogue-ru.js'
import { uz } from './catalogue-uz.js'

export const LOCALES = ['en', 'ru', 'uz'] as const
export type Locale = (typeof LOCALES)[number]

/** A message, or its plural forms by `Intl.PluralRules` category (`other` is required). */
export type Message = string | { zero?: string; one?: string; two?: string; few?: string; many?: string; other: string }
/** Hierarchical keys: `scripts.list.title`. */
export interface Catalogue {
  [key: string]: Message | Catalogue
}

export const CATALOGUES: Record<Locale, Catalogue> = { en, ru, uz }

/** BCP 47 tags for Intl: Uzbek in Latin script. */
const INTL_TAG: Record<Locale, string> = { en: 'en', ru: 'ru', uz: 'uz-Latn' }

function isPlural(value: Message | Catalogue): value is Exclude<Message, string> {
  return typeof value === 'object' && typeof (value as { other?: unknown }).other === 'string'
}

/** Every key of a catalogue, dotted; a plural message is one key. */
export function catalogueKeys(catalogue: Catalogue, prefix = ''): string[] {
  const keys: string[] = []
  for (const [name, value] of Object.entries(catalogue)) {
    const key = prefix === '' ? name : `${prefix}.${name}`
    if (typeof value === 'string' || isPlural(value)) keys.push(key)
    else keys.push(...catalogueKeys(value, key))
  }
  return keys
}

function lookup(catalogue: Catalogue, key: string): Message | undefined {
  let node: Message | Catalogue | undefined = catalogue
  for (const part of key.split('.')) {
    if (node === undefined || typeof node === 'string' || isPlural(node)) return undefined
    node = (node as Catalogue)[part]
  }
  if (node === undefined || (typeof node !== 'string' && !isPlural(node))) return undefined
  return node
}

/**
 * Messages, plurals, dates, numbers and durations of one locale. A key missing in the locale
 * falls back to English, then to the key itself (the catalogue test keeps that from shipping).
 *
 * @example
 * const t = new Translator('ru')
 * t.t('scripts.count', { count: 5 }) // "5 скриптов"
 */
export class Translator {
  readonly locale: Locale
  readonly tag: string
  readonly #plural: Intl.PluralRules
  readonly #number: Intl.NumberFormat
  readonly #dates = new Map<string, Intl.DateTimeFormat>()

  constructor(locale: Locale) {
    this.locale = locale
    this.tag = INTL_TAG[locale]
    this.#plural = new Intl.PluralRules(this.tag)
    this.#number = new Intl.NumberFormat(this.tag)
  }

  /** The message at `key` with `{name}` placeholders filled; `count` picks the plural form. */
  t(key: string, vars: Record<string, string | number> = {}): string {
    const message = lookup(CATALOGUES[this.locale], key) ?? lookup(CATALOGUES.en, key) ?? key
    let text: string
    if (typeof message === 'string') text = message
    else {
      const count = typeof vars.count === 'number' ? vars.count : 0
      const category = this.#plural.select(count) as keyof typeof message
      text = message[category] ?? message.other
    }
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const value = vars[name]
      if (value === undefined) return whole
      return typeof value === 'number' ? this.#number.format(value) : value
    })
  }

  /** A translated enum value (`enum.status.active`), or the value itself when it has none. */
  enum(family: string, value: string): string {
    const key = `enum.${family}.${value}`
    return lookup(CATALOGUES[this.locale], key) === undefined && lookup(CATALOGUES.en, key) === undefined ? value : this.t(key)
  }

  number(value: number, options?: Intl.NumberFormatOptions): string {
    return options === undefined ? this.#number.format(value) : new Intl.NumberFormat(this.tag, options).format(value)
  }

  /** Date and time in `timeZone` (default UTC), medium styles. */
  dateTime(value: Date | string | null | undefined, timeZone = 'UTC'): string {
    if (value === null || value === undefined) return '—'
    const date = typeof value === 'string' ? new Date(value) : value
    let format = this.#dates.get(timeZone)
    if (format === undefined) {
      format = new Intl.DateTimeFormat(this.tag, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone, timeZoneName: 'short' })
      this.#dates.set(timeZone, format)
    }
    return format.format(date)
  }

  /** Milliseconds as a localized duration: 850 ms, 1.2 s, 3.5 min. */
  duration(ms: number | null | undefined): string {
    if (ms === null || ms === undefined) return '—'
    if (ms < 1000) return this.number(ms, { style: 'unit', unit: 'millisecond', maximumFractionDigits: 1 })
    if (ms < 60_000) return this.number(ms / 1000, { style: 'unit', unit: 'second', maximumFractionDigits: 2 })
    return this.number(ms / 60_000, { style: 'unit', unit: 'minute', maximumFractionDigits: 1 })
  }

  /** Bytes as kB/MB, localized. */
  bytes(value: number | null | undefined): string {
    if (value === null || value === undefined) return '—'
    if (value < 1024) return this.number(value, { style: 'unit', unit: 'byte' })
    if (value < 1024 * 1024) return this.number(value / 1024, { style: 'unit', unit: 'kilobyte', maximumFractionDigits: 1 })
    return this.number(value / (1024 * 1024), { style: 'unit', unit: 'megabyte', maximumFractionDigits: 1 })
  }
}

const translators = new Map<Locale, Translator>(LOCALES.map((locale) => [locale, new Translator(locale)]))

export function translator(locale: Locale): Translator {
  return translators.get(locale) as Translator
}

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value)
}

/** The best of LOCALES for an Accept-Language header (q-values honoured), else English. */
export function negotiateLocale(header: string | undefined): Locale {
  if (!header) return 'en'
  const ranked = header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';')
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
      return { tag: tag.toLowerCase(), q: q === undefined ? 1 : Number(q.slice(2)) || 0, index }
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
  for (const { tag } of ranked) {
    const base = tag.split('-')[0]
    if (isLocale(base)) return base
  }
  return 'en'
}
