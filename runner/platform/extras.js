// Small globals most scripts never touch: performance (now, timeOrigin), navigator (userAgent,
// hardwareConcurrency) and scheduler.wait. A chunk (lazy.js), loaded on first use.
import { brand } from './lazy.js'
import { current, hostCall, then } from './runtime.js'

const timeOrigin = Date.now()

/**
 * Workers' clock rule (a Spectre mitigation): time inside a request moves only with I/O, never
 * while code runs. Here: milliseconds, coarsened to the millisecond Date gives, since the context
 * began; it does not measure the script's own CPU work with fine resolution.
 */
export class Performance {
  get timeOrigin() { return timeOrigin }
  now() { return Date.now() - timeOrigin }
  toJSON() { return { timeOrigin } }
  get [Symbol.toStringTag]() { return 'Performance' }
}

export class Navigator {
  get userAgent() { return 'isogate' }
  get hardwareConcurrency() { return 1 }
  get language() { return 'en' }
  get languages() { return Object.freeze(['en']) }
  get [Symbol.toStringTag]() { return 'Navigator' }
}

export class Scheduler {
  /** Workers' `scheduler.wait(ms)`: an awaitable setTimeout (one host call, as a timer is). */
  wait(ms = 0) {
    const run = current
    if (run === null || run.done) return Promise.reject(new TypeError('scheduler.wait can only be used while a handler runs'))
    const delay = Number(ms) > 0 ? Math.min(Math.trunc(Number(ms)), 2 ** 31 - 1) : 0
    return then(hostCall(run, 'timers.sleep', [delay]), () => undefined)
  }
  get [Symbol.toStringTag]() { return 'Scheduler' }
}

brand(Performance, Navigator, Scheduler)

export const performance = new Performance()
export const navigator = new Navigator()
export const scheduler = new Scheduler()
