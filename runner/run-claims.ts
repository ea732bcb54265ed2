/** Cells 0 and 1 are the thread's counters; runs are offered from here on. */
const FIRST_CELL = 2

/**
 * Which runs sent to a worker thread the thread has started, and whether a synchronous step holds
 * it, in memory both sides share (issue 20 item 4: a tenant holding its thread must not hold a
 * co-located tenant's run past a target).
 *
 * A run sent to a thread waits in the thread's inbox until the thread's event loop reads it. A
 * tenant whose synchronous first step spins (a program that earned synchronous steps, then loops
 * until its CPU limit, 10 s by default) holds the loop, and every run in the inbox, its
 * neighbours' too, would wait that long. The thread marks each synchronous step in cell 0 (its
 * number while it runs, 0 between steps; cell 1 numbers them), so the shard
 * (runner/process/worker-shard.ts) sees one step that lasts. The shard offers each run it sends in
 * a cell of its own, and the thread claims the cell as it starts the run (runner/thread/worker.ts).
 * While a step lasts, the shard withdraws the runs still unclaimed and they run on another
 * thread; a withdrawn run's claim fails when the thread gets to it, so it is never run twice.
 * Only a step counts as a hold: a thread starting, or replacing one that died, or compiling, is
 * waited for as before (moving its runs would spread a tenant that breaks threads to the next one,
 * and cost every moved tenant a cold start).
 *
 * A cell holds the run's tag (its sequence number, kept positive) while it is on offer, 0 once
 * claimed or withdrawn: each side takes it with one compare-and-exchange, so exactly one wins.
 *
 * @example
 * const claims = new RunClaims(1024)                // shard side; claims.buffer goes to the thread
 * const cell = claims.offer(seq)
 * // thread side: if (claimRun(cells, cell, seq)) start the run, else skip it
 * if (!claims.taken(cell, seq) && claims.withdraw(cell, seq)) runElsewhere()
 * claims.release(cell)                              // answered, or withdrawn
 */
export class RunClaims {
  readonly buffer: SharedArrayBuffer
  readonly #cells: Int32Array
  readonly #free: number[] = []

  constructor(cells: number) {
    if (!Number.isInteger(cells) || cells <= FIRST_CELL) throw new RangeError(`cells must be an integer over ${FIRST_CELL}`)
    this.buffer = new SharedArrayBuffer(cells * Int32Array.BYTES_PER_ELEMENT)
    this.#cells = new Int32Array(this.buffer)
    for (let cell = cells - 1; cell >= FIRST_CELL; cell--) this.#free.push(cell)
  }

  /** The synchronous step the thread is in (a number that differs from step to step), or 0. */
  get step(): number {
    return Atomics.load(this.#cells, 0)
  }

  /** The thread died, perhaps in a step: its replacement starts in none. */
  threadGone(): void {
    Atomics.store(this.#cells, 0, 0)
  }

  /** Puts run `seq` on offer; its cell, or 0 when every cell is taken (the run cannot be withdrawn then). */
  offer(seq: number): number {
    const cell = this.#free.pop() ?? 0
    if (cell !== 0) Atomics.store(this.#cells, cell, tag(seq))
    return cell
  }

  /** Whether the thread has started run `seq` (or it was withdrawn). */
  taken(cell: number, seq: number): boolean {
    return cell === 0 || Atomics.load(this.#cells, cell) !== tag(seq)
  }

  /** Takes run `seq` back before the thread starts it; false when the thread started it first. */
  withdraw(cell: number, seq: number): boolean {
    return cell !== 0 && Atomics.compareExchange(this.#cells, cell, tag(seq), 0) === tag(seq)
  }

  /** The cell may hold another run: its run was answered or withdrawn. */
  release(cell: number): void {
    if (cell !== 0) this.#free.push(cell)
  }
}

/** Thread side: a synchronous step begins; it holds the thread until `endStep`. */
export function beginStep(cells: Int32Array): void {
  Atomics.store(cells, 0, ((Atomics.add(cells, 1, 1) + 1) & 0x7fffffff) || 1)
}

/** Thread side: the synchronous step is over. */
export function endStep(cells: Int32Array): void {
  Atomics.store(cells, 0, 0)
}

/** Thread side: whether run `seq` in `cell` is this thread's to start (false: the shard withdrew it). */
export function claimRun(cells: Int32Array, cell: number, seq: number): boolean {
  return cell === 0 || Atomics.compareExchange(cells, cell, tag(seq), 0) === tag(seq)
}

/** A run's tag in its cell: positive, and never the same for two runs that could share a cell. */
function tag(seq: number): number {
  return (seq % 0x7ffffffe) + 1
}
