// One run inside the isolate: its log lines (capped by the output limit), the promises passed to
// ctx.waitUntil, and the first error thrown outside the handler's own promise chain (a timer
// callback, a microtask), which ends the run like an uncaught exception.
import { byteLength } from './encoding.js'

export class Run {
  /** What `untilFailure` (index.js) awaits for this run, rejected with its first failure; null while none. */
  #rejects = null

  constructor(id, outputLimit) {
    this.id = id
    this.logs = []
    /** UTF-8 bytes of every line logged, kept or not. */
    this.logBytes = 0
    this.outputLimit = outputLimit
    this.outputExceeded = false
    this.waitUntil = []
    /** Host calls of this run not settled yet (see `finish` in index.js); a Set once it makes one. */
    this.pendingCalls = null
    this.done = false
    /** `{ error }` once something outside the handler's chain threw. */
    this.failure = null
  }

  /** Calls `reject` with the run's failure: at once if it failed already, else when it fails. */
  onFailure(reject) {
    if (this.failure !== null) reject(this.failure.error)
    else (this.#rejects ??= []).push(reject)
  }

  /** Keeps a log line while the run's logs fit its output limit; lines after the run ended are dropped. */
  log(level, message) {
    if (this.done) return
    this.logBytes += byteLength(message)
    if (this.logBytes > this.outputLimit) {
      this.outputExceeded = true
      return
    }
    this.logs.push({ level, message, time: Date.now() })
  }

  fail(error) {
    if (this.failure !== null || this.done) return
    this.failure = { error }
    const rejects = this.#rejects
    this.#rejects = null
    if (rejects !== null) for (const reject of rejects) reject(error)
  }
}
