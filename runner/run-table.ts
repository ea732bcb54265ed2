/**
 * A table of what is in flight, keyed by run or request id, for entries added and removed once
 * per run (issue 22).
 *
 * Why not a Map: V8 links a Map's replaced hash table to its successor (for iterators that are
 * still walking it), and a Map that gains and loses one entry per run replaces its table every
 * few hundred runs. Once one replaced table has been promoted to the old generation, it keeps its
 * successor alive through every scavenge, and that one the next: each young table, and every run
 * its entries still hold, is promoted, however short-lived (nepotism). Measured on the gateway at
 * hello@100: 2-4 MB promoted per scavenge, scavenges of 10-15 ms instead of 1-2, and a full
 * collection every second or so. A dictionary-mode object has no such link.
 *
 * @example
 * const calls = new RunTable<number, Call>()
 * calls.set(7, call)
 * calls.delete(7)
 */
export class RunTable<K extends string | number, V> {
  #entries: Record<string | number, V> = Object.create(null) as Record<string | number, V>
  #size = 0

  get size(): number {
    return this.#size
  }

  get(key: K): V | undefined {
    return this.#entries[key]
  }

  has(key: K): boolean {
    return key in this.#entries
  }

  set(key: K, value: V): this {
    if (!(key in this.#entries)) this.#size++
    this.#entries[key] = value
    return this
  }

  delete(key: K): boolean {
    if (!(key in this.#entries)) return false
    delete this.#entries[key]
    this.#size--
    return true
  }

  /** The values now (a copy: the table may change while the caller walks them). */
  values(): V[] {
    return Object.values(this.#entries)
  }

  clear(): void {
    this.#entries = Object.create(null) as Record<string | number, V>
    this.#size = 0
  }
}

/**
 * Keys in round-robin order, each once: the first goes next and, rotated (`delete`, then `add`),
 * to the back. Not a Set, for the same reason as RunTable: rotating one once per run replaces its
 * hash table every few runs.
 *
 * @example
 * const ready = new RoundRobin<string>()
 * ready.add('acme')
 * const next = ready.first()
 */
export class RoundRobin<K extends string | number> {
  readonly #order: K[] = []
  readonly #members = new RunTable<K, true>()

  get size(): number {
    return this.#order.length
  }

  first(): K | undefined {
    return this.#order[0]
  }

  has(key: K): boolean {
    return this.#members.has(key)
  }

  /** Puts `key` at the back, unless it is in already (where it keeps its place). */
  add(key: K): void {
    if (this.#members.has(key)) return
    this.#members.set(key, true)
    this.#order.push(key)
  }

  delete(key: K): void {
    if (!this.#members.delete(key)) return
    this.#order.splice(this.#order.indexOf(key), 1)
  }

  /** The keys in order now (a copy: the order may change while the caller walks it). */
  keys(): K[] {
    return [...this.#order]
  }
}
