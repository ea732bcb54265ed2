/**
 * The hold watcher of a runner process without worker threads (runner-hold.ts): a thread that
 * runs no tenant code. Every CHECK_MS it looks at the synchronous step the runner's thread is in;
 * one that lasts HOLD_MS holds the runner. It then sets the held bit of the mark (the runner's
 * thread starts no later run from then on) and tells the gateway the last run started, in a
 * `{ held }` frame on the runner's host-call socket (host-call-listener.ts): the gateway runs the
 * runs sent after that one elsewhere and fences the runner.
 */
import { performance } from 'node:perf_hooks'
import { workerData } from 'node:worker_threads'
import { FrameChannel } from '../framing.js'
import { HELD_BIT, MARK_CELL, RUN_MASK, STEP_CELL } from './runner-hold.js'

/**
 * A synchronous step this long (ms) holds the runner (issue 20 item 4: a neighbour held 50 ms at
 * most). Steps of programs that earned them average under 2 ms (runner/thread/step-costs.ts).
 */
const HOLD_MS = 20
/** How often (ms) the watcher looks. */
const CHECK_MS = 5

const { cells, socketPath } = workerData as { cells: Int32Array; socketPath: string }
const channel = FrameChannel.connect(socketPath, () => {})
// The gateway gone, the runner follows: nothing left to report to.
channel.socket.on('error', () => channel.socket.destroy())
channel.socket.on('close', () => clearInterval(timer))

let seen = 0
let seenAt = 0
/** The step last reported, reported once. */
let reported = 0

const timer = setInterval(() => {
  const step = Atomics.load(cells, STEP_CELL)
  const now = performance.now()
  if (step !== seen) {
    seen = step
    seenAt = now
    return
  }
  if (step === 0 || step === reported || now - seenAt < HOLD_MS) return
  reported = step
  const mark = Atomics.or(cells, MARK_CELL, HELD_BIT)
  // Held already, and not fenced yet: the gateway knows.
  if ((mark & HELD_BIT) !== 0) return
  channel.send({ held: mark & RUN_MASK })
}, CHECK_MS)
