import type { Database } from '../db/database.js'
import type { TenantRepository } from '../db/tenant.repository.js'
import type { TenantStatus } from '../domain/tenant.js'
import { effectiveQuota, type TenantQuota } from '../domain/tenant-quota.js'
import { KeyedQueue } from './keyed-queue.js'

/** What this node knows of one tenant without asking the database. */
export interface TenantState {
  id: string
  slug: string
  status: TenantStatus
  quota: TenantQuota
}

/** A tenant changed (state null: it was deleted). `remote`: the change was made by another node. */
export interface TenantChange {
  tenantId: string
  state: TenantState | null
  /** The state before, null for a tenant this node did not know. */
  previous: TenantState | null
  remote: boolean
}

export type TenantChangeListener = (change: TenantChange) => Promise<void> | void

export interface TenantDirectoryOptions {
  db: Database
  tenants: TenantRepository
  /** The quota of a tenant whose operator set nothing (from the settings). */
  defaults: TenantQuota
}

/**
 * Every tenant's status and quota, in this node's memory, for the parts that must not query the
 * database per request or per host call (the data plane's gate, admission, ctx.cache, run
 * limits, metric labels). Loaded at start; `refresh(tenantId)` re-reads one tenant after a change
 * made here (the services call it before they answer) or on another node (TenantRelay).
 *
 * @example
 * const directory = new TenantDirectory({ db, tenants: new TenantRepository(), defaults })
 * await directory.load()
 * directory.quotaOf(tenantId).dbBytes
 */
export class TenantDirectory {
  readonly #db: Database
  readonly #tenants: TenantRepository
  readonly #defaults: TenantQuota
  readonly #byId = new Map<string, TenantState>()
  readonly #idBySlug = new Map<string, string>()
  readonly #listeners = new Set<TenantChangeListener>()
  /** A tenant's refreshes, one after another. */
  readonly #refreshes = new KeyedQueue()

  constructor(options: TenantDirectoryOptions) {
    if (options.defaults === null || typeof options.defaults !== 'object') throw new TypeError('options.defaults must be a TenantQuota')
    this.#db = options.db
    this.#tenants = options.tenants
    this.#defaults = Object.freeze({ ...options.defaults })
  }

  get defaults(): TenantQuota {
    return this.#defaults
  }

  /**
   * Reads every tenant: at start, and after the notification connection was lost (changes may
   * have been missed). Listeners hear of every tenant that changed or went since the last read.
   */
  async load(): Promise<void> {
    const { rows, quotas } = await this.#db.system(async (tx) => ({
      rows: await tx<Array<{ id: string; slug: string; status: TenantStatus }>>`SELECT id, slug, status FROM tenants`,
      quotas: await this.#tenants.quotas(tx),
    }))
    const before = new Map(this.#byId)
    this.#byId.clear()
    this.#idBySlug.clear()
    for (const row of rows) this.#put({ id: row.id, slug: row.slug, status: row.status, quota: effectiveQuota(this.#defaults, quotas.get(row.id)) })
    const changes: TenantChange[] = []
    for (const [id, previous] of before) {
      const state = this.#byId.get(id) ?? null
      if (state === null || JSON.stringify(state) !== JSON.stringify(previous)) changes.push({ tenantId: id, state, previous, remote: true })
    }
    await Promise.all(changes.flatMap((change) => [...this.#listeners].map(async (listener) => listener(change))))
  }

  /**
   * Re-reads one tenant and tells the listeners (routes, gate, caches) before it resolves. A
   * tenant's refreshes run one after another, so a read that began before a change (a quota's
   * notification, then a suspension's, on another node) cannot land after the read that saw it
   * and put the tenant back as it was.
   */
  refresh(tenantId: string, options: { remote?: boolean } = {}): Promise<TenantState | null> {
    return this.#refreshes.run(tenantId, () => this.#refresh(tenantId, options))
  }

  async #refresh(tenantId: string, options: { remote?: boolean }): Promise<TenantState | null> {
    const found = await this.#db.system(async (tx) => {
      const tenant = await this.#tenants.findById(tx, tenantId)
      if (tenant === null) return null
      const quotas = await this.#tenants.quotas(tx, tenantId)
      return { id: tenant.id, slug: tenant.slug, status: tenant.status, quota: effectiveQuota(this.#defaults, quotas.get(tenantId)) }
    })
    const previous = this.#byId.get(tenantId) ?? null
    if (previous !== null) {
      this.#byId.delete(tenantId)
      this.#idBySlug.delete(previous.slug)
    }
    if (found !== null) this.#put(found)
    const change: TenantChange = { tenantId, state: found, previous, remote: options.remote === true }
    await Promise.all([...this.#listeners].map(async (listener) => listener(change)))
    return found
  }

  subscribe(listener: TenantChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  get(tenantId: string): TenantState | undefined {
    return this.#byId.get(tenantId)
  }

  hasSlug(slug: string): boolean {
    return this.#idBySlug.has(slug)
  }

  /** The tenant's quota; the defaults for a tenant this node does not know (yet). */
  quotaOf(tenantId: string): TenantQuota {
    return this.#byId.get(tenantId)?.quota ?? this.#defaults
  }

  all(): IterableIterator<TenantState> {
    return this.#byId.values()
  }

  #put(state: TenantState): void {
    this.#byId.set(state.id, Object.freeze(state))
    this.#idBySlug.set(state.slug, state.id)
  }
}
