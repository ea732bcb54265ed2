/**
 * CPU charged to the run whose code was executing (issue 20 item 3), as workerd charges the current
 * IoContext. An isolate runs one piece of code at a time, but a tenant's runs interleave in it:
 * each entry (a run's dispatch, a host call or timer settling, a stream chunk) belongs to one run.
 * The platform inside the isolate knows which (runner/platform/runtime.js `enter`), and on each
 * switch it reads the isolate's CPU clock and charges the time since the last switch to the run
 * that was executing. The books are shared memory, so the host reads them with no call into the
 * isolate (the watchdog reads them every few milliseconds, while the isolate runs):
 *
 * - the thread's ledger (`CpuLedger`): nanoseconds charged per run slot. A run's id names its slot
 *   (`id % slots`), so nothing extra crosses into the isolate at dispatch;
 * - each isolate's account (`IsolateCpuAccount`): the slot executing since when, and the CPU no run
 *   was charged for (slot 0: the platform's own steps, a program's top-level code, code of a run
 *   that already ended). That share is charged to every run of the isolate in flight, as all CPU
 *   was before: nothing the isolate spends escapes the limits.
 *
 * The isolate writes under a sequence lock (odd while it writes), so a reading never counts a
 * segment twice. isolated-vm reads a running segment by the wall clock and a finished one by the
 * thread's CPU clock, so a reading can run ahead of the final figure; charges never go negative.
 */

/** Slots per worker thread: runs in flight on one thread past this share slot 0 (isolate-wide). */
export const CPU_SLOTS = 4096

/** Layout of an isolate's account: an Int32 sequence, then three Float64 fields. */
const SEQ = 0
const CURRENT = 0
const START = 1
const UNATTRIBUTED = 2

/**
 * One worker thread's CPU ledger: nanoseconds charged to each run in flight, by slot. Slot 0 is
 * never handed out (it means "no run": see IsolateCpuAccount).
 */
export class CpuLedger {
  /** `slots` Float64 charges, then `slots` Int32 flags: 1 once the host ended the slot's run. */
  readonly buffer: SharedArrayBuffer
  readonly #charged: Float64Array
  readonly #ended: Int32Array
  readonly #free: number[] = []

  constructor(slots = CPU_SLOTS) {
    if (!Number.isInteger(slots) || slots < 2) throw new RangeError('slots must be an integer of at least 2')
    this.buffer = new SharedArrayBuffer(slots * (Float64Array.BYTES_PER_ELEMENT + Int32Array.BYTES_PER_ELEMENT))
    this.#charged = new Float64Array(this.buffer, 0, slots)
    this.#ended = new Int32Array(this.buffer, slots * Float64Array.BYTES_PER_ELEMENT, slots)
    for (let slot = slots - 1; slot >= 1; slot--) this.#free.push(slot)
  }

  get slots(): number {
    return this.#charged.length
  }

  /** A free slot, zeroed; 0 when every slot is taken (the run is then charged isolate-wide). */
  take(): number {
    const slot = this.#free.pop() ?? 0
    if (slot !== 0) {
      this.#charged[slot] = 0
      Atomics.store(this.#ended, slot, 0)
    }
    return slot
  }

  /**
   * Marks the slot's run ended for the platform: no answer to its host calls resumes its code
   * after this (runtime.js). Sequentially consistent with the platform's switch, so a reading of
   * the account taken after this either shows the run executing or shows it cannot resume.
   */
  end(slot: number): void {
    if (slot !== 0) Atomics.store(this.#ended, slot, 1)
  }

  release(slot: number): void {
    if (slot !== 0) this.#free.push(slot)
  }

  /** Charges `ns` to `slot` as a finished segment (IsolateCpuAccount.idle, the host's one switch). */
  add(slot: number, ns: number): void {
    this.#charged[slot] = (this.#charged[slot] as number) + ns
  }

  /** Nanoseconds charged to `slot` by finished segments (read under the account's lock). */
  charged(slot: number): number {
    return this.#charged[slot] as number
  }
}

/** A consistent reading of an isolate's account. */
interface AccountReading {
  current: number
  start: number
  unattributed: number
  /** The slot's finished segments, read in the same window. */
  charged: number
}

/** One isolate's CPU account, shared with its platform (one per TenantIsolate). */
export class IsolateCpuAccount {
  readonly buffer: SharedArrayBuffer
  readonly ledger: CpuLedger
  readonly #seq: Int32Array
  readonly #fields: Float64Array
  readonly #clock: () => number

  /** `clock`: the isolate's CPU clock in nanoseconds, as the platform reads it (isolate.cpuTime). */
  constructor(ledger: CpuLedger, clock: () => number) {
    this.ledger = ledger
    this.#clock = clock
    this.buffer = new SharedArrayBuffer(8 + 3 * Float64Array.BYTES_PER_ELEMENT)
    this.#seq = new Int32Array(this.buffer, 0, 2)
    this.#fields = new Float64Array(this.buffer, 8, 3)
    this.#fields[CURRENT] = 0
    this.#fields[START] = clock()
  }

  /** CPU charged to no run so far (ns), the running segment included when it is no run's. */
  unattributedNs(): number {
    const now = this.#clock()
    const reading = this.#read(0)
    return reading.unattributed + (reading.current === 0 ? Math.max(0, now - reading.start) : 0)
  }

  /** The slot executing, or the last that did (the account does not know which). */
  current(): number {
    return this.#read(0).current
  }

  /** CPU charged to `slot` so far (ns), its running segment included. */
  slotNs(slot: number): number {
    if (slot === 0) return 0
    const now = this.#clock()
    const reading = this.#read(slot)
    return reading.charged + (reading.current === slot ? Math.max(0, now - reading.start) : 0)
  }

  /**
   * A run's charge so far (ns), from one reading of the clock and of the books: its slot's, and
   * what no run was charged for since `unattributedAtStart` (RunCpu.live).
   */
  runNs(slot: number, unattributedAtStart: number): number {
    const now = this.#clock()
    const reading = this.#read(slot)
    const running = Math.max(0, now - reading.start)
    const own = slot === 0 ? 0 : reading.charged + (reading.current === slot ? running : 0)
    const unattributed = reading.unattributed + (reading.current === 0 ? running : 0)
    return own + Math.max(0, unattributed - unattributedAtStart)
  }

  /**
   * Ends the running segment and names no run as executing, as the platform's switch to slot 0
   * does (runtime.js switchTo). The platform switches when a run's code starts, not when an entry
   * into the isolate ends, so between entries it names the run that executed last; the host calls
   * this before it enters the isolate for no run (a context's platform start, a program's
   * top-level code), which would otherwise be charged to that run, even one already ended (a
   * program compiled right after a run ended at its wall limit got the isolate killed in that
   * run's name). Only while no code of the isolate may be executing: the isolate writes the books too.
   */
  idle(): void {
    const current = this.#fields[CURRENT] as number
    if (current === 0) return
    const now = this.#clock()
    Atomics.add(this.#seq, SEQ, 1)
    const spent = now - (this.#fields[START] as number)
    if (spent > 0) this.ledger.add(current, spent)
    this.#fields[START] = now
    this.#fields[CURRENT] = 0
    Atomics.add(this.#seq, SEQ, 1)
  }

  #read(slot: number): AccountReading {
    // The isolate holds the lock for a few instructions; a reading that keeps colliding (an
    // isolate terminated mid-write) settles for the fields as they are.
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(this.#seq, SEQ)
      const reading = {
        current: this.#fields[CURRENT] as number,
        start: this.#fields[START] as number,
        unattributed: this.#fields[UNATTRIBUTED] as number,
        charged: slot === 0 ? 0 : this.ledger.charged(slot),
      }
      if (attempt >= 100 || ((before & 1) === 0 && Atomics.load(this.#seq, SEQ) === before)) return reading
    }
  }
}

/**
 * One run's CPU: what the platform charged its slot, the isolate's unattributed CPU since the run
 * began, and host CPU spent for it (crypto.subtle). Frozen when the run ends, so a slot handed to
 * a later run never changes an ended run's figure.
 */
export class RunCpu {
  readonly slot: number
  readonly #account: IsolateCpuAccount | null
  readonly #unattributedAtStart: number
  #hostNs = 0
  #final: number | null = null

  constructor(account: IsolateCpuAccount | null, slot: number) {
    this.#account = account
    this.slot = slot
    this.#unattributedAtStart = account?.unattributedNs() ?? 0
  }

  /** Nanoseconds charged to the run so far; fixed once frozen. */
  ns(): number {
    return this.#final ?? this.live()
  }

  /** Nanoseconds charged to the run's books so far, frozen or not (see BridgeRun.cpuSinceEnd). */
  live(): number {
    const account = this.#account
    if (account === null) return this.#hostNs
    return account.runNs(this.slot, this.#unattributedAtStart) + this.#hostNs
  }

  /**
   * Whether code the run is charged for may be executing: its own, or code no run is charged for
   * (shared by every run in flight). The account names the slot that executed last; it does not
   * know whether the isolate is idle since.
   */
  mayBeExecuting(): boolean {
    if (this.#account === null) return true
    const current = this.#account.current()
    return current === this.slot || current === 0
  }

  /** CPU the run's own code spent so far (ns), frozen or not: its slot alone. */
  ownNs(): number {
    return this.#account?.slotNs(this.slot) ?? 0
  }

  /** Host CPU spent for the run, counted as its own. */
  chargeHost(ns: number): void {
    if (ns > 0) this.#hostNs += ns
  }

  /** Fixes the figure (the run ended); later readings return it. */
  freeze(): number {
    this.#final ??= this.ns()
    return this.#final
  }
}
