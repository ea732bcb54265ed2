/**
 * The hold watcher of a runner process without worker threads (runner-hold.ts): a thread that
 * runs no tenant code. Every CHECK_MS it looks at the synchronous step the runner's thread is in;
 * one that lasts HOLD_MS holds the runner. It then sets the held bit of the mark (the runner's
 * thread starts no later run from then on) and tells the gateway the last run started, in a
 * `{ held }` frame on the runner's host-call socket (host-call-listener.ts): the gateway runs the
 * runs sent after that one elsewhere and fences the runner.
 */
import { performance } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { FrameChannel, RUN_MASK } from '../framing.js'
import { HELD_BIT, MARK_CELL, STEP_CELL, STEPS_CELL } from './runner-hold.js'

/**
 * A synchronous step this long (ms) holds the runner (issue 20 item 4: a neighbour held 50 ms at
 * most). Steps of programs that earned them average under 2 ms (runner/thread/step-costs.ts).
 */
const HOLD_MS = 20
/** How often (ms) the watcher looks while the runner takes steps. */
const CHECK_MS = 5
/** How often (ms) it looks once no step began for IDLE_AFTER_MS: an idle runner is not woken 200 times a second. */
const IDLE_CHECK_MS = 50
const IDLE_AFTER_MS = 1000

const { cells, socketPath } = workerData as { cells: Int32Array; socketPath: string }
const channel = FrameChannel.connect(socketPath, () => {})
let timer: NodeJS.Timeout | null = null
let closed = false
// The gateway gone, the runner follows: nothing left to report to.
channel.socket.on('error', () => channel.socket.destroy())
// Connected, it can report: the runner serves from now on (RunnerHold.watching).
channel.socket.once('connect', () => parentPort?.postMessage('watching'))
channel.socket.on('close', () => {
  closed = true
  if (timer !== null) clearTimeout(timer)
})

let seen = 0
let seenAt = 0
/** The steps begun so far (cell 1), and when that last changed. */
let steps = 0
let stepsAt = performance.now()
/** The step last reported, reported once. */
let reported = 0

function check(): void {
  const step = Atomics.load(cells, STEP_CELL)
  const now = performance.now()
  const begun = Atomics.load(cells, STEPS_CELL)
  if (begun !== steps) {
    steps = begun
    stepsAt = now
  }
  if (step !== seen) {
    seen = step
    seenAt = now
  } else if (step !== 0 && step !== reported && now - seenAt >= HOLD_MS) {
    reported = step
    const mark = Atomics.or(cells, MARK_CELL, HELD_BIT)
    // Held already, and not fenced yet: the gateway knows.
    if ((mark & HELD_BIT) === 0) channel.send({ held: mark & RUN_MASK })
  }
  if (!closed) timer = setTimeout(check, step === 0 && now - stepsAt >= IDLE_AFTER_MS ? IDLE_CHECK_MS : CHECK_MS)
}
check()
