import { NameTable, RoundRobin } from '../run-table.js'

/**
 * The queue of runs a worker thread cannot take yet (worker-shard.ts: its slots are full), fair
 * across tenants: one lane per tenant, and a freed slot goes to the next lane in round-robin order
 * rather than to the oldest run. A tenant flooding its home thread (or spilling onto another
 * tenant's) then delays another tenant's run by one run at most, not by its whole backlog. Within
 * a lane, first in, first out.
 *
 * @example
 * const waiting = new FairTaskQueue<number>()
 * waiting.push(7, 'acme')
 * const next = waiting.shift((lane) => overCpuShare(lane))
 */
export class FairTaskQueue<T> {
  /** Items by lane; lanes come and go with their items, so not a Map (see ../run-table.ts). */
  readonly #lanes = new NameTable<T[]>()
  /** Lanes with items, in round-robin order. */
  readonly #ready = new RoundRobin<string>()
  #size = 0

  get size(): number {
    return this.#size
  }

  push(item: T, lane: string): void {
    let items = this.#lanes.get(lane)
    if (items === undefined) {
      items = []
      this.#lanes.set(lane, items)
      this.#ready.add(lane)
    }
    items.push(item)
    this.#size++
  }

  /**
   * The next item, round-robin across lanes; `held` lanes (a tenant over its CPU share,
   * cpu-shares.ts) are passed over and keep their place in the order.
   */
  shift(held?: (lane: string) => boolean): T | null {
    for (const lane of this.#ready.keys()) {
      if (held?.(lane) === true) continue
      const items = this.#lanes.get(lane) as T[]
      const item = items.shift() as T
      this.#size--
      // To the back of the line, or gone when empty.
      this.#ready.delete(lane)
      if (items.length > 0) this.#ready.add(lane)
      else this.#lanes.delete(lane)
      return item
    }
    return null
  }

  /**
   * The oldest item of one lane, out of turn (a tenant under its share of a thread's slots,
   * slot-shares.ts), or null; the lane keeps its place in the round-robin order.
   */
  shiftLane(lane: string): T | null {
    const items = this.#lanes.get(lane)
    if (items === undefined) return null
    const item = items.shift() as T
    this.#size--
    if (items.length === 0) {
      this.#lanes.delete(lane)
      this.#ready.delete(lane)
    }
    return item
  }
}
