import { LRUCache } from 'lru-cache'
import { deserialize, serialize } from 'node:v8'
import { AppError } from '../errors.js'

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

/**
 * `ctx.cache`: a per-tenant key-value cache in the gateway's memory, for values a script can
 * afford to lose (entries go when they expire, when the tenant's byte budget needs the room, and
 * when the gateway restarts). Values are stored serialized (structured clone), so a script gets a
 * copy on every `get` and the byte budget counts what is really held.
 *
 * @example
 * const cache = new TenantCache({ maxBytesPerTenant: 8 << 20 })
 * cache.set(tenantId, 'rates', { eur: 1.08 }, { ttlSeconds: 60 })
 * cache.get(tenantId, 'rates') // { eur: 1.08 }
 */
export class TenantCache {
  readonly #options: typeof DEFAULTS
  readonly #maxBytesOf: (tenantId: string) => number | undefined
  readonly #tenants: LRUCache<string, LRUCache<string, Buffer>>

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
    this.#tenants = new LRUCache({ max: resolved.maxTenants })
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
  }

  delete(tenantId: string, key: unknown): boolean {
    const name = checkKey(key)
    return this.#tenants.get(tenantId)?.delete(name) ?? false
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
      })
      this.#tenants.set(tenantId, cache)
    }
    return cache
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new AppError('CACHE_INVALID', `a cache key must be a string of 1 to ${MAX_KEY_LENGTH} characters`)
  }
  return key
}
