import { LRUCache } from 'lru-cache'
import type { WireTask } from '../protocol.js'

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

  /** Keeps the source a run carries, if it does (the first run of its program, or one sent again). */
  keep(task: WireTask): void {
    if (task.source !== undefined) this.remember(task.key, task.source, task.tenantId)
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

/** Head texts kept before they are let go all at once (a head is one per route and set of limits). */
const MAX_HEADS = 16_384

/**
 * Head texts (WireTask.json) by number: the gateway sends each once, and a run that names its head
 * gets the text from here. Let go all at once when full: a run of a head let go is answered as
 * missing its program, and comes again with its source and head.
 */
export class TaskHeads {
  readonly #heads = new Map<number, string>()

  /** Keeps the head `task` carries, or gives `task` the text of the head it names: false when that head was let go. */
  fill(task: WireTask): boolean {
    if (task.json !== undefined) {
      if (!this.#heads.has(task.head)) {
        if (this.#heads.size >= MAX_HEADS) this.#heads.clear()
        this.#heads.set(task.head, task.json)
      }
      return true
    }
    const json = this.#heads.get(task.head)
    if (json === undefined) return false
    task.json = json
    return true
  }
}
