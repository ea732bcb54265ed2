export interface TenantLabelsOptions {
  /** Whether a tenant slug names a tenant that exists (clients can send any name). */
  exists: (slug: string) => boolean
  /** Tenants with a label value of their own; past it they are counted as `_other`. */
  maxTenants?: number
}

/** The label value of a name no tenant has. */
export const UNKNOWN_LABEL = '_unknown'
/** The label value of existing tenants past the bound. */
export const OTHER_LABEL = '_other'

/**
 * Tenant label values that a client cannot grow: a name is a label only while a tenant has it,
 * and at most `maxTenants` of them; anything else is `_unknown` or `_other`. Prometheus keeps one
 * series per label set, so a request to `/scan12345/x` must not make one.
 *
 * @example
 * const labels = new TenantLabels({ exists: (slug) => directory.hasSlug(slug), maxTenants: 1000 })
 * labels.of('acme') // 'acme'; labels.of('scan12345') // '_unknown'
 */
export class TenantLabels {
  readonly #exists: (slug: string) => boolean
  readonly #max: number
  readonly #given = new Set<string>()

  constructor(options: TenantLabelsOptions) {
    if (typeof options.exists !== 'function') throw new TypeError('options.exists must be a function')
    const max = options.maxTenants ?? 1000
    if (!Number.isInteger(max)) throw new TypeError('options.maxTenants must be an integer')
    if (max < 1) throw new RangeError('options.maxTenants must be a positive integer')
    this.#exists = options.exists
    this.#max = max
  }

  of(slug: string): string {
    if (this.#given.has(slug)) return slug
    if (!this.#exists(slug)) return UNKNOWN_LABEL
    if (this.#given.size >= this.#max) return OTHER_LABEL
    this.#given.add(slug)
    return slug
  }

  /** The tenant is gone: its value is free again (the caller removes its series). */
  forget(slug: string): boolean {
    return this.#given.delete(slug)
  }
}

/** Statuses kept as they are; any other is its class (`2xx` ... `5xx`), so scripts cannot grow the set. */
const KNOWN_STATUSES = new Set([200, 201, 202, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 499, 500, 502, 503, 504])

export function statusLabel(status: number): string {
  if (KNOWN_STATUSES.has(status)) return String(status)
  const family = Math.floor(status / 100)
  return family >= 1 && family <= 5 ? `${family}xx` : 'other'
}
