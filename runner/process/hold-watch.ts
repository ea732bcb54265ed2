import { performance } from 'node:perf_hooks'
import { RunClaims } from '../run-claims.js'

/**
 * A synchronous step this long (ms), with a run waiting unread, holds the thread (issue 20 item 4:
 * a tenant may hold a co-located tenant's run for 50 ms at most). Steps of programs that earned
 * them average under 2 ms (runner/thread/step-costs.ts).
 */
const HOLD_MS = 20
/** How often (ms) the watch looks at the thread while runs are on offer. */
const CHECK_MS = 10

/** What the watch keeps on a run sent to the thread (the shard's pending run carries it). */
export interface OfferedRun {
  /** Its cell while on offer (run-claims.ts); 0 when not withdrawable. */
  claim: number
  /** When it was last sent (performance.now()). */
  sentAt: number
}

/**
 * Watches one worker thread for a synchronous step that holds it while runs wait unread in its
 * inbox (run-claims.ts): a tenant whose program earned synchronous first steps, then spins up to
 * its CPU limit. While runs are on offer it looks every CHECK_MS; a step lasting HOLD_MS with a
 * run unread that long calls `onHeld` (again at each check while it lasts, so runs sent while
 * every thread was held move once another is free), and the shard takes back what the thread has
 * not started (`withdraw`) for another thread to run.
 *
 * @example
 * const watch = new HoldWatch(cells, (seq) => pending.get(seq), () => pool.rehome(shard))
 * watch.offer(seq, run)          // as the run is sent; watch.buffer goes to the thread
 * if (watch.withdraw(seq, run)) runElsewhere(run)
 * watch.release(run)             // answered
 */
export class HoldWatch {
  readonly #claims: RunClaims
  readonly #lookup: (seq: number) => OfferedRun | undefined
  readonly #onHeld: () => void
  /** Runs sent, oldest first, not yet seen started. */
  #offered: number[] = []
  #timer: NodeJS.Timeout | null = null
  /** The step seen at the last check, and when a check first saw it. */
  #stepSeen = 0
  #stepSeenAt = 0
  /** The step judged to hold the thread; the thread is held while it lasts. */
  #heldStep = 0
  #closed = false

  constructor(cells: number, lookup: (seq: number) => OfferedRun | undefined, onHeld: () => void) {
    this.#claims = new RunClaims(cells)
    this.#lookup = lookup
    this.#onHeld = onHeld
  }

  /** The memory the thread claims its runs and marks its steps in. */
  get buffer(): SharedArrayBuffer {
    return this.#claims.buffer
  }

  /** A synchronous step has held the thread past HOLD_MS and still does. */
  get held(): boolean {
    return this.#heldStep !== 0 && this.#claims.step === this.#heldStep
  }

  /** Run `seq` is sent (again) to the thread. */
  offer(seq: number, run: OfferedRun): void {
    this.#claims.release(run.claim)
    run.claim = this.#claims.offer(seq)
    run.sentAt = performance.now()
    this.#offered.push(seq)
    this.#watch()
  }

  /** Run `seq` left the thread's books (answered, or lost with the thread): its cell is free. */
  release(run: OfferedRun): void {
    this.#claims.release(run.claim)
    run.claim = 0
  }

  /** The runs sent and perhaps not started, oldest first; the list starts over. */
  takeOffered(): number[] {
    const offered = this.#offered
    this.#offered = []
    return offered
  }

  /** Takes run `seq` back before the thread starts it; false when the thread started it first. */
  withdraw(seq: number, run: OfferedRun): boolean {
    if (!this.#claims.withdraw(run.claim, seq)) return false
    this.release(run)
    return true
  }

  /** The thread died, perhaps in a step: its replacement starts in none. */
  threadGone(): void {
    this.#claims.threadGone()
  }

  close(): void {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #check(): void {
    this.#timer = null
    const now = performance.now()
    const step = this.#claims.step
    if (step !== this.#stepSeen) {
      this.#stepSeen = step
      this.#stepSeenAt = now
    }
    let started = 0
    let oldest: OfferedRun | undefined
    for (const seq of this.#offered) {
      const run = this.#lookup(seq)
      if (run !== undefined && !this.#claims.taken(run.claim, seq)) {
        oldest = run
        break
      }
      started++
    }
    if (started > 0) this.#offered.splice(0, started)
    if (step !== 0 && oldest !== undefined && now - this.#stepSeenAt >= HOLD_MS && now - oldest.sentAt >= HOLD_MS) {
      this.#heldStep = step
      this.#onHeld()
    }
    if (this.#offered.length > 0) this.#watch()
  }

  #watch(): void {
    if (this.#timer !== null || this.#closed) return
    this.#timer = setTimeout(() => this.#check(), CHECK_MS)
    this.#timer.unref()
  }
}
