import { performance } from 'node:perf_hooks'
import { LRUCache } from 'lru-cache'
import type { NearDrop, NearTerms } from '../near-copies.js'

/** One kept answer. */
interface Kept {
  value: unknown
  tenantId: string
  /** performance.now() past which it no longer answers. */
  expires: number
  /** NearTerms.bytes. */
  bytes: number
}

/** What a thread holds for one tenant: its keys (to drop them all at once) and its reads out. */
interface TenantHold {
  keys: Set<string>
  /** Reads of the tenant on their way to the gateway. */
  reading: number
  /** The clock of the last drop heard for the tenant while a read was out. */
  dropped: number
}

/** Bytes of kept answers per thread (as the gateway counts them, serialized), least recently used first out. */
export const NEAR_CACHE_BYTES = 8 * 1024 * 1024
/** Keys answered from copies that one report to the gateway names at most (`touched`). */
const MAX_TOUCHED = 1024

/**
 * A worker thread's kept answers (near-copies.ts explains the protocol): a script's repeated
 * `ctx.cache.get` is answered here, in a microtask, rather than over the thread's socket.
 *
 * A copy answers a run only when the thread has heard the gateway's clock as far as the run's
 * version (`horizon`): the socket brings drops in clock order, so every change the run may know
 * of is dropped by then. An answer is kept only if no drop of its tenant came while it was on its
 * way with a clock past its own. Values are handed out as kept: the bridge copies them into the
 * isolate, so no script ever holds the thread's object.
 *
 * @example
 * const near = new NearCache()
 * near.get(tenantId, 'k', run.near) ?? near.read(tenantId, 'k', () => socket.call(...))
 */
export class NearCache {
  readonly #kept: LRUCache<string, Kept>
  readonly #tenants = new Map<string, TenantHold>()
  /** The highest clock the socket has brought (a drop's or an answer's). */
  #horizon = 0
  /** Calls answered from a kept answer. */
  hits = 0
  /** Keys answered from copies since `touched()` was last taken. */
  #touched = new Set<string>()

  constructor(maxBytes = NEAR_CACHE_BYTES) {
    this.#kept = new LRUCache<string, Kept>({
      maxSize: maxBytes,
      sizeCalculation: (kept, key) => kept.bytes + key.length,
      dispose: (kept, key) => this.#unindex(kept.tenantId, key),
    })
  }

  /** Kept answers, for tests and stats. */
  get size(): number {
    return this.#kept.size
  }

  /** The kept answer of `key` for a run sent at tenant version `near`; undefined: ask the gateway. */
  get(tenantId: string, key: string, near: number): { value: unknown } | undefined {
    if (near < 0 || near > this.#horizon) return undefined
    const id = keyOf(tenantId, key)
    const kept = this.#kept.get(id)
    if (kept === undefined) return undefined
    if (performance.now() >= kept.expires) {
      this.#kept.delete(id)
      return undefined
    }
    this.hits++
    if (this.#touched.size < MAX_TOUCHED) this.#touched.add(id)
    return kept
  }

  /** A read of `key` goes to the gateway: `ask` sends it and calls `keep` with an answer that came with terms. */
  read<T>(tenantId: string, key: string, ask: (keep: (value: unknown, terms: NearTerms) => void) => Promise<T>): Promise<T> {
    const hold = this.#holdOf(tenantId)
    hold.reading++
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      hold.reading--
      this.#release(tenantId, hold)
    }
    const keep = (value: unknown, terms: NearTerms): void => {
      this.#horizon = Math.max(this.#horizon, terms.clock)
      // A change of the tenant after the gateway answered came ahead of the answer: keep nothing.
      if (hold.dropped <= terms.clock && terms.ttlMs > 0) {
        const id = keyOf(tenantId, key)
        const kept: Kept = { value, tenantId, expires: performance.now() + terms.ttlMs, bytes: terms.bytes }
        this.#kept.set(id, kept)
        if (this.#kept.has(id)) hold.keys.add(id)
      }
      finish()
    }
    const pending = ask(keep)
    pending.then(finish, finish)
    return pending
  }

  /**
   * The keys answered from copies since the last call, [tenantId, key] each: the gateway counts
   * them as used, or a key read only here would look unused there and be the first pushed out.
   */
  touched(): Array<[string, string]> {
    const ids = this.#touched
    this.#touched = new Set()
    return [...ids].map(tenantAndKey)
  }

  /** A change the gateway made: the copies it touches go. */
  drop([tenantId, key, clock]: NearDrop): void {
    this.#horizon = Math.max(this.#horizon, clock)
    const hold = this.#tenants.get(tenantId)
    if (hold === undefined) return
    if (hold.reading > 0) hold.dropped = Math.max(hold.dropped, clock)
    if (key !== null) this.#kept.delete(keyOf(tenantId, key))
    else for (const id of [...hold.keys]) this.#kept.delete(id)
  }

  /** The socket closed: nothing kept can be trusted to hear of changes any more. */
  clear(): void {
    for (const hold of this.#tenants.values()) hold.dropped = Number.POSITIVE_INFINITY
    this.#kept.clear()
  }

  #holdOf(tenantId: string): TenantHold {
    let hold = this.#tenants.get(tenantId)
    if (hold === undefined) {
      hold = { keys: new Set(), reading: 0, dropped: 0 }
      this.#tenants.set(tenantId, hold)
    }
    return hold
  }

  #unindex(tenantId: string, id: string): void {
    const hold = this.#tenants.get(tenantId)
    if (hold === undefined) return
    hold.keys.delete(id)
    this.#release(tenantId, hold)
  }

  #release(tenantId: string, hold: TenantHold): void {
    if (hold.reading === 0 && hold.keys.size === 0 && this.#tenants.get(tenantId) === hold) this.#tenants.delete(tenantId)
  }
}

function keyOf(tenantId: string, key: string): string {
  return `${tenantId}\n${key}`
}

/** keyOf's parts again (a tenant id holds no newline). */
function tenantAndKey(id: string): [string, string] {
  const at = id.indexOf('\n')
  return [id.slice(0, at), id.slice(at + 1)]
}
