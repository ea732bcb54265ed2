// One run inside the isolate: its log lines (capped by the output limit), the promises passed to
// ctx.waitUntil, and the first error thrown outside the handler's own promise chain (a timer
// callback, a microtask), which ends the run like an uncaught exception.
import { byteLength } from './encoding.js'
import { then } from './runtime.js'

const settledPromise = Promise.resolve()
const EMPTY = Object.freeze(new Set())

export class Run {
  /** Rejections of the promises waiting on this run's failure (untilFailure in index.js), or null. */
  #failureWaiters = null
  #pendingCalls = null

  constructor(id, outputLimit) {
    this.id = id
    this.logs = []
    /** UTF-8 bytes of every line logged, kept or not. */
    this.logBytes = 0
    this.outputLimit = outputLimit
    this.outputExceeded = false
    this.waitUntil = []
    this.done = false
    /** `{ error }` once something outside the handler's chain threw. */
    this.failure = null
  }

  /** Host calls of this run not settled yet (see `finish` in index.js); made on the first call, as most runs make none. */
  get pendingCalls() {
    return this.#pendingCalls ?? EMPTY
  }

  addPendingCall(promise) {
    (this.#pendingCalls ??= new Set()).add(promise)
  }

  /**
   * Has `reject(error)` called, a microtask after the run fails (or after now, if it failed
   * already): a waiter list rather than a promise per run, which every run made and few need.
   */
  onFailure(reject) {
    if (this.failure !== null) {
      const { error } = this.failure
      then(settledPromise, () => reject(error))
      return
    }
    (this.#failureWaiters ??= []).push(reject)
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
    const waiters = this.#failureWaiters
    if (waiters === null) return
    this.#failureWaiters = null
    then(settledPromise, () => {
      for (let i = 0; i < waiters.length; i++) waiters[i](error)
    })
  }
}
