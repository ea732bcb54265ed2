// DOM AbortController and AbortSignal, with AbortSignal.abort, AbortSignal.timeout and AbortSignal.any.
import { DOMException } from './dom-exception.js'
import { Event, EventTarget } from './events.js'
import { brand } from './lazy.js'
import { setTimeout } from './timers.js'

const kCreate = Symbol('create')
let signalAbort

export class AbortSignal extends EventTarget {
  #aborted = false
  #reason = undefined
  #onabort = null
  /** Signals that follow this one (AbortSignal.any). */
  #dependents = []

  constructor(key) {
    if (key !== kCreate) throw new TypeError('Illegal constructor')
    super()
  }

  static abort(reason) {
    const signal = new AbortSignal(kCreate)
    signal.#aborted = true
    signal.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason
    return signal
  }

  /** Aborts with a TimeoutError after `ms`; a timer of the current run, so it ends with the run. */
  static timeout(ms) {
    const delay = Number(ms)
    if (!Number.isFinite(delay) || delay < 0) throw new TypeError(`AbortSignal.timeout: ${ms} is not a non-negative number`)
    const signal = new AbortSignal(kCreate)
    setTimeout(() => signalAbort(signal, new DOMException('The operation timed out.', 'TimeoutError')), delay)
    return signal
  }

  static any(signals) {
    const signal = new AbortSignal(kCreate)
    const sources = Array.from(signals)
    for (const source of sources) {
      if (!(source instanceof AbortSignal)) throw new TypeError('AbortSignal.any: every element must be an AbortSignal')
      if (source.aborted) {
        signal.#aborted = true
        signal.#reason = source.reason
        return signal
      }
    }
    for (const source of sources) source.#dependents.push(signal)
    return signal
  }

  get aborted() { return this.#aborted }
  get reason() { return this.#reason }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason
  }

  get onabort() { return this.#onabort }
  set onabort(handler) {
    if (this.#onabort === null && typeof handler === 'function') {
      this.addEventListener('abort', (event) => { if (typeof this.#onabort === 'function') this.#onabort.call(this, event) })
    }
    this.#onabort = typeof handler === 'function' ? handler : null
  }

  get [Symbol.toStringTag]() { return 'AbortSignal' }

  static {
    signalAbort = (signal, reason) => {
      if (signal.#aborted) return
      signal.#aborted = true
      signal.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason
      const dependents = signal.#dependents
      signal.#dependents = []
      signal.dispatchEvent(new Event('abort'))
      for (const dependent of dependents) signalAbort(dependent, signal.#reason)
    }
  }
}

export class AbortController {
  #signal = new AbortSignal(kCreate)

  get signal() { return this.#signal }

  abort(reason) {
    signalAbort(this.#signal, reason)
  }

  get [Symbol.toStringTag]() { return 'AbortController' }
}

brand(AbortController, AbortSignal)

/** A signal that never aborts, e.g. for a Request built without one. */
export function neverAbortedSignal() {
  return new AbortSignal(kCreate)
}
