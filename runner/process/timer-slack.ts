import { readFileSync, writeFileSync } from 'node:fs'
import { isMainThread } from 'node:worker_threads'

const SLACK_FILE = '/proc/self/timerslack_ns'

/**
 * Sets the timer slack of the calling process's main thread (Linux): how late the kernel may wake
 * a thread's timed sleep so as to wake it together with others. Threads started after inherit it:
 * a runner's worker threads, and isolated-vm's timer threads, which the worker threads start.
 *
 * Why a runner wants it: every synchronous step into an isolate carries its bound as isolated-vm's
 * `timeout`, a timer entry that is not removed when the step returns early; the timer thread wakes
 * at each entry's deadline to drop it. At the kernel's 50 us slack that is a wake-up per run:
 * measured, 16-23 us of the timer thread's CPU a run with 100 tenants' runs (8 us with one); 4-6
 * (1.2-1.7) with 1 ms, where the wake-ups of a millisecond are one. A step that spins past its
 * bound is stopped at most that much later, and the runner's own timers (the watchdog's wall
 * limits, a script's `setTimeout`) may fire as late.
 *
 * 0 leaves the thread as it is. Returns whether the slack is now `us` microseconds: false where
 * the file is not there (not Linux) or not writable, and on a thread other than the main one (the
 * file is the main thread's).
 */
export function setTimerSlack(us: number): boolean {
  if (us === 0) return true
  if (!isMainThread) return false
  const ns = us * 1000
  try {
    writeFileSync(SLACK_FILE, String(ns))
    return Number(readFileSync(SLACK_FILE, 'utf8').trim()) === ns
  } catch {
    return false
  }
}
