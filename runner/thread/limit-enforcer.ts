import { RunnerError, type ErrorData, type RunnerErrorCode } from '../errors.js'
import type { RunLimits } from '../protocol.js'

/**
 * One run's limits and the one home of which limit ended it (as workerd's LimitEnforcer): the
 * watchdog reports wall and CPU time, the host bridge counts API calls, the settle step reports
 * memory and output. The first report wins, so a run that went over two limits ends with the one
 * that was seen first, and the run's result reads its error from here alone.
 *
 * @example
 * const limits = new LimitEnforcer(task.limits)
 * if (!limits.countApiCall()) return refuse()
 * const error = limits.exceeded // ErrorData of the first limit hit, or null
 */
export class LimitEnforcer {
  readonly limits: Readonly<RunLimits>
  /** Host API calls attempted, over the limit included. */
  apiCalls = 0
  #exceeded: ErrorData | null = null

  constructor(limits: Readonly<RunLimits>) {
    this.limits = limits
  }

  /** The first limit the run went over, as the run's error; null while within all. */
  get exceeded(): ErrorData | null {
    return this.#exceeded
  }

  /** Reports a limit the run went over; only the first report stays. */
  exceed(code: RunnerErrorCode, message?: string): void {
    this.#exceeded ??= new RunnerError(code, message).data
  }

  /** Whether one more host API call is within the limit (countApiCall would answer true). */
  get apiCallLeft(): boolean {
    return this.apiCalls < this.limits.apiCalls
  }

  /** Counts one host API call: false (and the run is over its limit) when it is one too many. */
  countApiCall(): boolean {
    this.apiCalls++
    if (this.apiCalls <= this.limits.apiCalls) return true
    this.exceed('SCRIPT_API_CALL_LIMIT', `the run went over its limit of ${this.limits.apiCalls} host API calls`)
    return false
  }

  /** Checks the run's output (log and body bytes) against its limit; false when over. */
  checkOutput(bytes: number): boolean {
    if (bytes <= this.limits.outputBytes) return true
    this.exceed('SCRIPT_OUTPUT_LIMIT', `the run produced ${bytes} bytes of output, over its limit of ${this.limits.outputBytes}`)
    return false
  }
}
