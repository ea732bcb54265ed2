// setTimeout/clearTimeout and queueMicrotask. A timer is a host call (`timers.sleep`, counted
// against the run's API calls) so the host owns the clock and re-enters the isolate when it fires,
// with `current` set to the timer's run. Timers belong to the run that set them: when the run ends
// the host cancels its sleeps and a timer that fires late is dropped, so no timer outlives its run.
import { current, enter, hostCall, queueTask, then } from './runtime.js'

const MAX_DELAY = 2 ** 31 - 1
/** Timer id -> its run, while pending. */
const pending = new Map()
let nextId = 1

function delayOf(value) {
  const ms = Number(value)
  if (!(ms > 0)) return 0
  return Math.min(Math.trunc(ms), MAX_DELAY)
}

function activeRun(what) {
  const run = current
  if (run === null || run.done) {
    throw new TypeError(`${what} can only be used while a handler runs, not at the top level of the script`)
  }
  return run
}

export function setTimeout(callback, delay = 0, ...args) {
  if (typeof callback !== 'function') throw new TypeError('setTimeout: the callback must be a function (code strings are not allowed)')
  const run = activeRun('setTimeout')
  const id = nextId++
  pending.set(id, run)
  then(hostCall(run, 'timers.sleep', [delayOf(delay)]), () => {
    if (!pending.delete(id) || run.done) return
    enter(run)
    try {
      callback(...args)
    } catch (error) {
      run.fail(error)
    }
  }, () => {
    // The run ended (the host cancelled its sleeps) or went over its API-call limit.
    pending.delete(id)
  })
  return id
}

export function clearTimeout(id) {
  pending.delete(id)
}

/**
 * setInterval: a chain of sleeps, each one host call (so each tick counts against the run's API
 * calls), the next one asked for before the callback runs; it ends with clearInterval or its run.
 */
export function setInterval(callback, delay = 0, ...args) {
  if (typeof callback !== 'function') throw new TypeError('setInterval: the callback must be a function (code strings are not allowed)')
  const run = activeRun('setInterval')
  const id = nextId++
  const ms = Math.max(delayOf(delay), 1)
  pending.set(id, run)
  const tick = () => {
    then(hostCall(run, 'timers.sleep', [ms]), () => {
      if (!pending.has(id) || run.done) return
      tick()
      enter(run)
      try {
        callback(...args)
      } catch (error) {
        run.fail(error)
      }
    }, () => {
      pending.delete(id)
    })
  }
  tick()
  return id
}

export const clearInterval = clearTimeout

export function queueMicrotask(callback) {
  if (typeof callback !== 'function') throw new TypeError('queueMicrotask: the callback must be a function')
  const run = current
  queueTask(() => {
    // Queued by the script's top level (no run yet): it runs as no run's, as the top level did.
    if (run !== null) enter(run)
    try {
      callback()
    } catch (error) {
      if (run !== null) run.fail(error)
    }
  })
}
