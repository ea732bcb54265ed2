import { LRUCache } from 'lru-cache'
import { deserialize, serialize } from 'node:v8'
import { AppError } from '../errors.js'
import { NEAR_MAX_MS, type NearDrop, type NearSource } from '../../runner/index.js'

export interface TenantCacheOptions {
  /** Bytes one tenant's entries may hold (keys plus serialized values); the least recently used go first. */
  maxBytesPerTenant?: number
  /** One value, serialized. */
  maxValueBytes?: number
  /** Tenants with a cache at once; the least recently used tenant's cache goes first. */
  maxTenants?: number
  /** Ceiling of `ttlSeconds`; also the lifetime of an entry set without one. */
  maxTtlSeconds?: number
  /**
   * A tenant's own byte budget (its quota), read when its cache is made; undefined keeps
   * maxBytesPerTenant. Call `forget(tenantId)` when it changes.
   */
  maxBytesOf?: (tenantId: string) => number | undefined
}

const DEFAULTS = {
  maxBytesPerTenant: 8 * 1024 * 1024,
  maxValueBytes: 1024 * 1024,
  maxTenants: 10_000,
  maxTtlSeconds: 7 * 86_400,
} satisfies Required<Omit<TenantCacheOptions, 'maxBytesOf'>>

const MAX_KEY_LENGTH = 512

export interface CacheSetOptions {
  ttlSeconds?: number
}

/** A read that a runner's thread may keep (TenantCache.near). */
export interface NearRead {
  value: unknown
  /** The tenant's version when read (NearSource.versionOf). */
  version: number
  /** How long the thread may answer it again: the entry's time left, at most NEAR_MAX_MS. */
  ttlMs: number
  bytes: number
}

/**
 * `ctx.cache`: a per-tenant key-value cache in the gateway's memory, for values a script can
 * afford to lose (entries go when they expire, when the tenant's byte budget needs the room, and
 * when the gateway restarts). Values are stored serialized (structured clone), so a script gets a
 * copy on every `get` and the byte budget counts what is really held.
 *
 * A runner's worker thread may keep what a script read and answer the script's next reads itself
 * (runner/near-copies.ts): the cache is the NearSource of those copies. Every change (a set, a
 * delete, an entry or a tenant pushed out, a tenant forgotten) ticks one clock and is told to the
 * threads at once, and each tenant's version is the clock of its last change.
 *
 * @example
 * const cache = new TenantCache({ maxBytesPerTenant: 8 << 20 })
 * cache.set(tenantId, 'rates', { eur: 1.08 }, { ttlSeconds: 60 })
 * cache.get(tenantId, 'rates') // { eur: 1.08 }
 */
export class TenantCache implements NearSource {
  readonly #options: typeof DEFAULTS
  readonly #maxBytesOf: (tenantId: string) => number | undefined
  readonly #tenants: LRUCache<string, LRUCache<string, Buffer>>
  #clock = 0
  /** Each cached tenant's version: the clock of its last change, or of when its cache was made. */
  readonly #versions = new Map<string, number>()
  /** The version of a tenant with no cache: the clock when a tenant's cache last went. */
  #floor = 0
  readonly #onDrop: Array<(drop: NearDrop) => void> = []

  constructor(options: TenantCacheOptions = {}) {
    const resolved = { ...DEFAULTS }
    if (options.maxBytesOf !== undefined && typeof options.maxBytesOf !== 'function') throw new TypeError('options.maxBytesOf must be a function')
    this.#maxBytesOf = options.maxBytesOf ?? (() => undefined)
    for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      const value = options[key] ?? DEFAULTS[key]
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${key} must be an integer`)
      if (value < 1) throw new RangeError(`options.${key} must be a positive integer`)
      resolved[key] = value
    }
    if (resolved.maxValueBytes > resolved.maxBytesPerTenant) throw new RangeError('options.maxValueBytes must not exceed options.maxBytesPerTenant')
    this.#options = resolved
    this.#tenants = new LRUCache<string, LRUCache<string, Buffer>>({
      max: resolved.maxTenants,
      // Pushed out or forgotten: every copy of its entries goes.
      dispose: (_cache, tenantId) => this.#changed(tenantId, null),
    })
  }

  clock(): number {
    return this.#clock
  }

  versionOf(tenantId: string): number {
    return this.#versions.get(tenantId) ?? this.#floor
  }

  onDrop(listener: (drop: NearDrop) => void): void {
    this.#onDrop.push(listener)
  }

  /** A key a runner thread answered from its copy: used now, so not the first pushed out. */
  touch(tenantId: string, key: string): void {
    this.#tenants.get(tenantId)?.get(key)
  }

  /**
   * `get`, with what a thread needs to keep the answer (null for a missing key, kept as well).
   * Makes the tenant's cache if it has none, so a tenant whose reads are kept is one the cache
   * can forget (and tell the threads).
   */
  near(tenantId: string, key: unknown): NearRead {
    const cache = this.#cacheOf(tenantId)
    const name = checkKey(key)
    const bytes = cache.get(name)
    const version = this.versionOf(tenantId)
    if (bytes === undefined) return { value: null, version, ttlMs: NEAR_MAX_MS, bytes: 0 }
    return { value: deserialize(bytes), version, ttlMs: Math.min(cache.getRemainingTTL(name), NEAR_MAX_MS), bytes: bytes.length }
  }

  get(tenantId: string, key: unknown): unknown {
    const name = checkKey(key)
    const bytes = this.#tenants.get(tenantId)?.get(name)
    return bytes === undefined ? null : deserialize(bytes)
  }

  set(tenantId: string, key: unknown, value: unknown, options: CacheSetOptions = {}): void {
    const name = checkKey(key)
    const ttlSeconds = options.ttlSeconds ?? this.#options.maxTtlSeconds
    if (typeof ttlSeconds !== 'number' || !(ttlSeconds > 0) || ttlSeconds > this.#options.maxTtlSeconds) {
      throw new AppError('CACHE_INVALID', `ttlSeconds must be a number above 0 and at most ${this.#options.maxTtlSeconds}`)
    }
    if (value === undefined) throw new AppError('CACHE_INVALID', 'a cached value cannot be undefined (delete the key instead)')
    let bytes: Buffer
    try {
      bytes = serialize(value)
    } catch (error) {
      throw new AppError('CACHE_INVALID', 'the value cannot be cached (it does not survive structured clone)', undefined, { cause: error })
    }
    if (bytes.length > this.#options.maxValueBytes) {
      throw new AppError('CACHE_VALUE_TOO_LARGE', `the value is ${bytes.length} bytes serialized; the limit is ${this.#options.maxValueBytes}`)
    }
    const cache = this.#cacheOf(tenantId)
    // An entry over the tenant's whole budget (its quota) would be dropped silently by the LRU.
    if (bytes.length + Buffer.byteLength(name) > cache.maxSize) {
      throw new AppError('CACHE_VALUE_TOO_LARGE', `the entry is ${bytes.length + Buffer.byteLength(name)} bytes; the tenant's cache quota is ${cache.maxSize}`)
    }
    cache.set(name, bytes, { ttl: Math.ceil(ttlSeconds * 1000) })
    this.#changed(tenantId, name)
  }

  delete(tenantId: string, key: unknown): boolean {
    const name = checkKey(key)
    const deleted = this.#tenants.get(tenantId)?.delete(name) ?? false
    if (deleted) this.#changed(tenantId, name)
    return deleted
  }

  /** Bytes a tenant's entries hold now. */
  bytes(tenantId: string): number {
    return this.#tenants.get(tenantId)?.calculatedSize ?? 0
  }

  /** Drops a tenant's entries (the tenant was deleted, or its byte budget changed). */
  forget(tenantId: string): void {
    this.#tenants.delete(tenantId)
  }

  #cacheOf(tenantId: string): LRUCache<string, Buffer> {
    let cache = this.#tenants.get(tenantId)
    if (cache === undefined) {
      const own = this.#maxBytesOf(tenantId)
      cache = new LRUCache<string, Buffer>({
        maxSize: own !== undefined && Number.isInteger(own) && own > 0 ? own : this.#options.maxBytesPerTenant,
        sizeCalculation: (value, key) => value.length + Buffer.byteLength(key),
        ttlAutopurge: false,
        // An entry pushed out for room: its copies go too (a set or delete says so itself).
        dispose: (_value, key, reason) => {
          if (reason === 'evict') this.#changed(tenantId, key)
        },
      })
      this.#versions.set(tenantId, this.#clock)
      this.#tenants.set(tenantId, cache)
    }
    return cache
  }

  /** One change: the clock ticks, the tenant's version follows, and the threads are told. */
  #changed(tenantId: string, key: string | null): void {
    const clock = ++this.#clock
    if (key === null) {
      this.#versions.delete(tenantId)
      this.#floor = clock
    } else this.#versions.set(tenantId, clock)
    for (const listener of this.#onDrop) listener([tenantId, key, clock])
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new AppError('CACHE_INVALID', `a cache key must be a string of 1 to ${MAX_KEY_LENGTH} characters`)
  }
  return key
}
