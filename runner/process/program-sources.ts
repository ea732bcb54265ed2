import { LRUCache } from 'lru-cache'

/** Source text a runner process keeps by default: far more programs than its threads hold compiled. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024

/**
 * The sources a runner process was sent, by program key (programKey()): a run names its program,
 * and its source crosses the socket only the first time, or again when this cache let it go. The
 * threads get a source from here when they lack the program compiled; bounded by total length.
 */
export class ProgramSources {
  readonly #sources: LRUCache<string, KeptSource>
  /** Each tenant's program keys here, so a tenant's sources go at once (TenantEvictor). */
  readonly #byTenant = new Map<string, Set<string>>()

  constructor(maxBytes = DEFAULT_MAX_BYTES) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer')
    this.#sources = new LRUCache<string, KeptSource>({
      maxSize: maxBytes,
      sizeCalculation: (kept) => Math.max(1, kept.source.length),
      dispose: (kept, key) => {
        const keys = this.#byTenant.get(kept.tenantId)
        keys?.delete(key)
        if (keys?.size === 0) this.#byTenant.delete(kept.tenantId)
      },
    })
  }

  /** Keeps `source` as program `key`'s, a program of `tenantId`. */
  remember(key: string, source: string, tenantId: string): void {
    if (this.#sources.has(key)) return
    this.#sources.set(key, { source, tenantId })
    let keys = this.#byTenant.get(tenantId)
    if (keys === undefined) {
      keys = new Set()
      this.#byTenant.set(tenantId, keys)
    }
    keys.add(key)
  }

  get(key: string): string | undefined {
    return this.#sources.get(key)?.source
  }

  /** Forgets every source of one tenant; answers how many went. */
  forgetTenant(tenantId: string): number {
    const keys = this.#byTenant.get(tenantId)
    if (keys === undefined) return 0
    const count = keys.size
    for (const key of [...keys]) this.#sources.delete(key)
    this.#byTenant.delete(tenantId)
    return count
  }
}

interface KeptSource {
  source: string
  tenantId: string
}

/** A run's program source is neither here nor in the run: the caller must send it (framing.ts `missing`). */
export class ProgramMissing extends Error {
  override readonly name = 'ProgramMissing'
  readonly key: string

  constructor(key: string) {
    super(`the source of program ${key} is not in this runner`)
    this.key = key
  }
}
