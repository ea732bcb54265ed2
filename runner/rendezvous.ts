import { createHash } from 'node:crypto'

/**
 * Rendezvous (highest random weight) hashing: every key ranks the same N buckets in a stable
 * order, and adding or removing a bucket moves only the keys whose first choice it was. Two
 * rankings of the same keys that must not agree (a tenant's runner, and its thread in that
 * runner) use different salts.
 */
export function rank(key: string, buckets: number, salt = ''): number[] {
  const scored: Array<[number, number]> = []
  for (let bucket = 0; bucket < buckets; bucket++) {
    const digest = createHash('sha1').update(`${salt}${bucket}:${key}`).digest()
    scored.push([digest.readUInt32BE(0), bucket])
  }
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1])
  return scored.map(([, bucket]) => bucket)
}

/**
 * The salt a runner process ranks its threads with. Unsalted, a tenant's thread was its runner's
 * index whenever the counts agree (2 runners of 2 threads: every tenant of runner 0 had thread 0,
 * and thread 1 of each runner saw only spilled runs), so each runner used one thread of two for
 * its tenants' homes, and co-located tenants always shared a thread.
 */
export const THREAD_SALT = 'thread:'

/** A tenant's threads in a runner process of `threads` threads, in the order the runner tries them. */
export function threadRank(tenantId: string, threads: number): number[] {
  return rank(tenantId, threads, THREAD_SALT)
}

/** Keys remembered before the memo starts over: a flood of one-off keys costs a re-hash, never unbounded memory. */
const MAX_KEYS = 100_000

/**
 * `rank()` for a fixed number of buckets, remembered per key: it hashes once per bucket, so once
 * per key (a tenant) rather than once per run. The one memo of rendezvous orders: the supervisor
 * places tenants on runner processes with it, a runner process places them on threads.
 *
 * @example
 * const homes = new Rendezvous(4)
 * const [home, second] = homes.order('tenant-id')
 */
export class Rendezvous {
  readonly buckets: number
  readonly #salt: string
  readonly #orders = new Map<string, readonly number[]>()

  /** `salt`: see rank. */
  constructor(buckets: number, salt = '') {
    if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError('buckets must be a positive integer')
    this.buckets = buckets
    this.#salt = salt
  }

  /** The buckets in `key`'s order of preference. */
  order(key: string): readonly number[] {
    let order = this.#orders.get(key)
    if (order === undefined) {
      if (this.#orders.size >= MAX_KEYS) this.#orders.clear()
      order = rank(key, this.buckets, this.#salt)
      this.#orders.set(key, order)
    }
    return order
  }

  /** `key`'s first choice. */
  home(key: string): number {
    return this.order(key)[0] as number
  }
}
