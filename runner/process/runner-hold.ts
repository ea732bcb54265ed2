import { Worker } from 'node:worker_threads'
import { RUN_MASK } from '../framing.js'
import { siblingModule } from './platform-source.js'
import { threadEntry } from './thread-entry.js'

/** Cells 0 and 1: the synchronous step the thread is in (0 between steps), and how many began (run-claims.ts beginStep). */
export const STEP_CELL = 0
export const STEPS_CELL = 1
/** Cell 2: the last run started (its id's low bits, RUN_MASK), and HELD_BIT once the watcher judged the thread held. */
export const MARK_CELL = 2
const CELLS = 3
export const HELD_BIT = RUN_MASK + 1

/**
 * A runner process without worker threads (inline-pool.ts) runs its tenants' steps on the thread
 * that reads the gateway's socket: a tenant whose synchronous step spins holds every run the
 * runner has not started until the step's bound, its CPU limit (issue 20 item 4: a neighbour
 * held past ~50 ms). This is the runner's half of the answer, and the gateway takes those runs
 * back and runs them on another runner (runner-client.ts).
 *
 * The thread marks each synchronous step (`steps`, as a worker thread does for its shard) and,
 * before it starts a run, the run's id in memory a small watcher thread shares
 * (hold-watcher.ts). A step that lasts HOLD_MS makes the watcher set the mark's held bit and tell
 * the gateway, over the runner's host-call socket, the last run started: the gateway withdraws
 * every run it sent after that one and sends the runner a fence. Until the fence comes, this
 * thread starts none of the runs that came after that one (`admit` says no): each is taken with
 * one compare-and-exchange on the mark, so a run is either started here or withdrawn, never both.
 *
 * @example
 * const hold = RunnerHold.start(hostSocketPath)
 * const pool = await InlinePool.create(options, hold)
 * await hold.watching
 * if (hold.admit(request.id)) pool.runWire(task)   // else: the gateway ran it elsewhere
 * hold.fence()                                      // the gateway's fence frame
 */
export class RunnerHold {
  /** Where the isolate host marks its synchronous steps (cells 0 and 1). */
  readonly steps: Int32Array
  /**
   * Resolves once the watcher looks at the thread and is connected to the gateway (or failed: holds
   * then go unreported). The runner serves after it: a thread starts in 0.2-0.6 s, the first
   * runs would otherwise go unwatched.
   */
  readonly watching: Promise<void>
  readonly #worker: Worker
  /** The id of the last run started (all of it: the mark keeps its low bits). */
  #last = 0
  #dropped = 0

  private constructor(cells: Int32Array, worker: Worker) {
    this.steps = cells
    this.#worker = worker
    this.watching = new Promise((resolve) => {
      worker.once('message', () => resolve())
      worker.once('error', () => resolve())
      worker.once('exit', () => resolve())
    })
  }

  /** Starts the watcher thread; it reports holds on the gateway's host-call socket at `socketPath` (see `watching`). */
  static start(socketPath: string): RunnerHold {
    const cells = new Int32Array(new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT))
    const url = siblingModule('./hold-watcher', import.meta.url)
    const entry = threadEntry(url)
    const worker = new Worker(entry, { workerData: { cells, socketPath, tsxWorkerModule: url.href } })
    // It must not keep the runner alive, nor end it: a watcher that failed only leaves holds unreported.
    worker.unref()
    worker.on('error', (error) => process.emitWarning(new Error('the hold watcher of a runner failed; a held runner is not reported', { cause: error })))
    return new RunnerHold(cells, worker)
  }

  /** Runs the gateway withdrew and that came here anyway (they ran on another runner). */
  get dropped(): number {
    return this.#dropped
  }

  /**
   * Whether run `id` is this runner's to start now: false for a run the gateway withdrew (sent
   * after the last run started when the watcher judged this thread held, and before the fence).
   * A run sent again (with its source, the runner asked for it) has an id started before: it is.
   */
  admit(id: number): boolean {
    if (id <= this.#last) return true
    const cells = this.steps
    for (;;) {
      const mark = Atomics.load(cells, MARK_CELL)
      if ((mark & HELD_BIT) !== 0) {
        this.#dropped++
        return false
      }
      if (Atomics.compareExchange(cells, MARK_CELL, mark, id & RUN_MASK) === mark) break
    }
    this.#last = id
    return true
  }

  /** The gateway's fence: every run it withdrew came before it, so runs are this thread's again. */
  fence(): void {
    Atomics.and(this.steps, MARK_CELL, RUN_MASK)
  }

  close(): Promise<number> {
    return this.#worker.terminate()
  }
}
