/** Slots a table starts with; it doubles when half are held, and never shrinks. */
const INITIAL_SLOTS = 64

/**
 * A table of what is in flight, keyed by run, call or request ids that count up (a sequence
 * number each), for entries added and removed once per run (issue 22).
 *
 * Its storage is two arrays that never move: the entry of key `k` sits in slot `k & mask`, and a
 * key whose slot a much older key still holds (a run that outlived the table's span of keys) waits
 * in a small Map beside it. Grown (doubled) when a key finds its slot held and half the slots are,
 * never shrunk.
 *
 * Why not a Map: V8 links a Map's replaced hash table to its successor (for iterators that are
 * still walking it), and a Map that gains and loses one entry per run replaces its table every
 * few hundred runs. Once one replaced table has been promoted to the old generation, it keeps its
 * successor alive through every scavenge, and that one the next: each young table, and every run
 * its entries still hold, is promoted, however short-lived (nepotism). Measured on the gateway at
 * hello@100: 2-4 MB promoted per scavenge, scavenges of 10-15 ms instead of 1-2, and a full
 * collection every second or so (test/run-table.test.ts measures it).
 *
 * Why not a dictionary-mode object (what this table was until session 24): its store rehashes as
 * deleted entries pile up, and a set, get and delete of a run cost 320-430 ns against 15-20 here
 * (64 and 500 in flight), several times a request in each process; a string key is internalized
 * (copied into the old generation's string table) on its first use.
 *
 * Keys are meant to be non-negative safe integers (a counter's values); any other number is kept
 * aside in the Map, as a key whose slot is held.
 *
 * @example
 * const calls = new RunTable<number, Call>()
 * calls.set(7, call)
 * calls.delete(7)
 */
export class RunTable<K extends number, V> {
  /** Each slot's key; NaN for a free slot (no key equals it). */
  #keys = new Float64Array(INITIAL_SLOTS).fill(Number.NaN)
  #values: Array<V | undefined> = new Array<V | undefined>(INITIAL_SLOTS).fill(undefined)
  #mask = INITIAL_SLOTS - 1
  /** Entries held in slots. */
  #held = 0
  /** Entries whose slot an older key held when they came (and keys that are no counter's); null while there are none. */
  #overflow: Map<number, V> | null = null

  get size(): number {
    return this.#held + (this.#overflow?.size ?? 0)
  }

  get(key: K): V | undefined {
    const slot = key & this.#mask
    if (this.#keys[slot] === key) return this.#values[slot]
    return this.#overflow?.get(key)
  }

  has(key: K): boolean {
    return this.#keys[key & this.#mask] === key || (this.#overflow?.has(key) ?? false)
  }

  set(key: K, value: V): this {
    if (!isCounter(key)) {
      // Not a counter's value: kept aside, as a Map would (a slot could never be found for it).
      ;(this.#overflow ??= new Map()).set(key, value)
      return this
    }
    let slot = key & this.#mask
    const held = this.#keys[slot] as number
    if (held === key) {
      this.#values[slot] = value
      return this
    }
    if (this.#overflow?.has(key) === true) {
      this.#overflow.set(key, value)
      return this
    }
    if (!Number.isNaN(held) && this.#held * 2 >= this.#keys.length) {
      this.#grow()
      slot = key & this.#mask
    }
    this.#place(key, value)
    return this
  }

  delete(key: K): boolean {
    const slot = key & this.#mask
    if (this.#keys[slot] === key) {
      this.#keys[slot] = Number.NaN
      this.#values[slot] = undefined
      this.#held--
      return true
    }
    if (this.#overflow === null || !this.#overflow.delete(key)) return false
    if (this.#overflow.size === 0) this.#overflow = null
    return true
  }

  /** The first value that `matches`, walking the table (not by key: for lookups that are rare). */
  find(matches: (value: V) => boolean): V | undefined {
    for (let slot = 0; slot < this.#keys.length; slot++) {
      if (!Number.isNaN(this.#keys[slot] as number) && matches(this.#values[slot] as V)) return this.#values[slot]
    }
    if (this.#overflow !== null) for (const value of this.#overflow.values()) if (matches(value)) return value
    return undefined
  }

  /** The values now, by key (oldest first); a copy: the table may change while the caller walks them. */
  values(): V[] {
    const entries: Array<[number, V]> = []
    let sorted = true
    let last = -1
    for (let slot = 0; slot < this.#keys.length; slot++) {
      const key = this.#keys[slot] as number
      if (Number.isNaN(key)) continue
      if (key < last) sorted = false
      last = key
      entries.push([key, this.#values[slot] as V])
    }
    if (this.#overflow !== null) {
      for (const entry of this.#overflow) entries.push(entry)
      sorted = false
    }
    if (!sorted) entries.sort((a, b) => a[0] - b[0])
    return entries.map((entry) => entry[1])
  }

  clear(): void {
    this.#keys.fill(Number.NaN)
    this.#values.fill(undefined)
    this.#held = 0
    this.#overflow = null
  }

  /** Doubles the slots and places every entry again (the waiting ones too, where their slot is free now). */
  #grow(): void {
    const keys = this.#keys
    const values = this.#values
    const overflow = this.#overflow
    const slots = keys.length * 2
    this.#keys = new Float64Array(slots).fill(Number.NaN)
    this.#values = new Array<V | undefined>(slots).fill(undefined)
    this.#mask = slots - 1
    this.#held = 0
    this.#overflow = null
    for (let slot = 0; slot < keys.length; slot++) {
      const key = keys[slot] as number
      if (!Number.isNaN(key)) this.#place(key, values[slot] as V)
    }
    if (overflow === null) return
    for (const [key, value] of overflow) {
      if (isCounter(key)) this.#place(key, value)
      else (this.#overflow ??= new Map()).set(key, value)
    }
  }

  /** Puts the entry in its slot if free, else aside. */
  #place(key: number, value: V): void {
    const slot = key & this.#mask
    if (Number.isNaN(this.#keys[slot] as number)) {
      this.#keys[slot] = key
      this.#values[slot] = value
      this.#held++
    } else {
      ;(this.#overflow ??= new Map()).set(key, value)
    }
  }
}

function isCounter(key: number): boolean {
  return key >= 0 && Number.isSafeInteger(key)
}

/**
 * A table keyed by names that live long (tenant ids): a dictionary-mode object, for entries that
 * come and go with a tenant's activity. Not for per-run keys: a fresh string key is internalized
 * (copied into the old generation) on its first use, and the store moves as entries come and go
 * (see RunTable).
 *
 * @example
 * const lanes = new NameTable<Run[]>()
 * lanes.set('acme', [])
 */
export class NameTable<V> {
  #entries: Record<string, V> = Object.create(null) as Record<string, V>
  #size = 0

  get size(): number {
    return this.#size
  }

  get(key: string): V | undefined {
    return this.#entries[key]
  }

  has(key: string): boolean {
    return key in this.#entries
  }

  set(key: string, value: V): this {
    if (!(key in this.#entries)) this.#size++
    this.#entries[key] = value
    return this
  }

  delete(key: string): boolean {
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
    this.#entries = Object.create(null) as Record<string, V>
    this.#size = 0
  }
}

/**
 * Keys in round-robin order, each once: the first goes next and, rotated (`delete`, then `add`),
 * to the back. Not a Set: rotating one once per run replaces its hash table every few runs (see
 * RunTable).
 *
 * @example
 * const ready = new RoundRobin<string>()
 * ready.add('acme')
 * const next = ready.first()
 */
export class RoundRobin<K extends string> {
  readonly #order: K[] = []
  readonly #members = new NameTable<true>()

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
