export interface RecordBufferOptions {
  /** Bytes the buffer holds at most (items waiting plus items being written). */
  maxBytes: number
}

/**
 * What happened to an offered item: accepted, or refused (the buffer is full and its tenant holds
 * its fair share or more); either way the records of other tenants pushed out to make room.
 */
export interface Admission<T> {
  accepted: boolean
  evicted: T[]
}

interface TenantQueue<T> {
  items: Array<{ item: T; bytes: number }>
  /** Bytes of this tenant's items, waiting and in flight. */
  bytes: number
}

/**
 * A byte-bounded buffer of records with per-tenant fair shares (max-min fairness). While there
 * is room every record gets in; when it is full, a tenant holding less than an equal share of
 * the bound (the bound divided by the tenants holding records) gets room by pushing out the
 * oldest waiting records of the tenant holding the most, and a tenant at or over its share is
 * refused. So a tenant logging megabytes per run fills its share and no more: another tenant's
 * records are never pushed out for it.
 *
 * Items taken for writing stay counted until `done` (written) or `putBack` (write failed): the
 * bound covers memory in flight too.
 */
export class RecordBuffer<T> {
  readonly #maxBytes: number
  readonly #tenants = new Map<string, TenantQueue<T>>()
  #bytes = 0
  #length = 0
  /** Round-robin position of `take` among tenants. */
  #cursor = 0

  constructor(options: RecordBufferOptions) {
    if (!Number.isInteger(options.maxBytes) || options.maxBytes < 1) throw new RangeError('options.maxBytes must be a positive integer')
    this.#maxBytes = options.maxBytes
  }

  /** Bytes held, waiting and in flight. */
  get bytes(): number {
    return this.#bytes
  }

  /** Items waiting to be taken. */
  get length(): number {
    return this.#length
  }

  get maxBytes(): number {
    return this.#maxBytes
  }

  offer(tenantId: string, item: T, bytes: number): Admission<T> {
    let queue = this.#tenants.get(tenantId)
    const evicted: T[] = []
    if (this.#bytes + bytes > this.#maxBytes) {
      const tenants = this.#tenants.size + (queue === undefined ? 1 : 0)
      const share = this.#maxBytes / tenants
      if ((queue?.bytes ?? 0) + bytes > share) return { accepted: false, evicted }
      while (this.#bytes + bytes > this.#maxBytes) {
        const victim = this.#largest(tenantId)
        const oldest = victim?.items.shift()
        if (victim === undefined || oldest === undefined) return { accepted: false, evicted }
        victim.bytes -= oldest.bytes
        this.#bytes -= oldest.bytes
        this.#length--
        evicted.push(oldest.item)
      }
    }
    if (queue === undefined) {
      queue = { items: [], bytes: 0 }
      this.#tenants.set(tenantId, queue)
    }
    queue.items.push({ item, bytes })
    queue.bytes += bytes
    this.#bytes += bytes
    this.#length++
    return { accepted: true, evicted }
  }

  /**
   * Takes up to `maxItems` waiting items (and about `maxBytes`, at least one), round robin
   * across tenants so one tenant's backlog does not delay another's records.
   */
  take(maxItems: number, maxBytes: number): Array<{ tenantId: string; item: T; bytes: number }> {
    const taken: Array<{ tenantId: string; item: T; bytes: number }> = []
    let size = 0
    const ids = [...this.#tenants.keys()]
    let idle = 0
    while (taken.length < maxItems && this.#length > 0 && idle < ids.length) {
      const tenantId = ids[this.#cursor++ % ids.length] as string
      const queue = this.#tenants.get(tenantId) as TenantQueue<T>
      const next = queue.items[0]
      if (next === undefined || (taken.length > 0 && size + next.bytes > maxBytes)) {
        idle++
        continue
      }
      idle = 0
      queue.items.shift()
      this.#length--
      size += next.bytes
      taken.push({ tenantId, item: next.item, bytes: next.bytes })
    }
    return taken
  }

  /** Items taken were written: their bytes are free. */
  done(items: ReadonlyArray<{ tenantId: string; bytes: number }>): void {
    for (const { tenantId, bytes } of items) {
      const queue = this.#tenants.get(tenantId)
      if (queue === undefined) continue
      queue.bytes -= bytes
      this.#bytes -= bytes
      if (queue.bytes <= 0 && queue.items.length === 0) this.#tenants.delete(tenantId)
    }
  }

  /** Items taken could not be written: they wait again, first in line. */
  putBack(items: ReadonlyArray<{ tenantId: string; item: T; bytes: number }>): void {
    for (let i = items.length - 1; i >= 0; i--) {
      const { tenantId, item, bytes } = items[i] as { tenantId: string; item: T; bytes: number }
      const queue = this.#tenants.get(tenantId)
      if (queue === undefined) continue // cannot happen: bytes in flight keep the queue
      queue.items.unshift({ item, bytes })
      this.#length++
    }
  }

  /** The tenant other than `except` holding the most bytes in waiting items. */
  #largest(except: string): TenantQueue<T> | undefined {
    let largest: TenantQueue<T> | undefined
    for (const [tenantId, queue] of this.#tenants) {
      if (tenantId === except || queue.items.length === 0) continue
      if (largest === undefined || queue.bytes > largest.bytes) largest = queue
    }
    return largest
  }
}
