import { RunnerError } from '../errors.js'
import type { RunnerClient } from './runner-client.js'
import type { RunnerMessage } from '../framing.js'

export interface RunnerSlotOptions {
  index: number
  /** Runs wait this long for the slot's runner while it is down, then answer RUNNER_UNAVAILABLE. */
  unavailableAfterMs: number
  /** Runs waiting while it is down; beyond, RUNNER_UNAVAILABLE at once. */
  maxWaiting: number
}

interface Waiting {
  message: RunnerMessage
  tenantId: string | null
  resolve(value: unknown): void
  reject(error: Error): void
}

/**
 * One shard of the tenants: the runner process serving it now (processes come and go; the slot
 * and its tenants stay), and the runs waiting while it has none. Waiting is bounded in time and
 * number, so a runner that does not come back turns into RUNNER_UNAVAILABLE, not a pile-up.
 */
export class RunnerSlot {
  readonly index: number
  /** The process serving this slot, or starting for it; null while none is. */
  client: RunnerClient | null = null
  /** Processes started for this slot. */
  starts = 0
  /** Starts in a row that died before serving. */
  failedStarts = 0
  /** A pending start of a replacement process. */
  timer: NodeJS.Timeout | null = null
  readonly #options: RunnerSlotOptions
  #waiting: Waiting[] = []
  /** Since when the slot has had no serving runner; null while it serves. */
  #downSince: number | null = Date.now()
  #deadline: NodeJS.Timeout | null = null

  constructor(options: RunnerSlotOptions) {
    this.index = options.index
    this.#options = options
  }

  get serving(): boolean {
    return this.client?.ready === true
  }

  /** A synchronous step holds its runner (RunnerClient.held): its tenants' runs go to another runner meanwhile. */
  get held(): boolean {
    return this.client?.held === true
  }

  get down(): boolean {
    return this.#downSince !== null
  }

  /** How long the slot has been without a serving runner (0 while it serves). */
  get downForMs(): number {
    return this.#downSince === null ? 0 : Date.now() - this.#downSince
  }

  /** Down for unavailableAfterMs or more: its runs are answered RUNNER_UNAVAILABLE until one serves again. */
  get unavailable(): boolean {
    return this.downForMs >= this.#options.unavailableAfterMs
  }

  get inFlight(): number {
    return this.client?.inFlight ?? 0
  }

  /** Sends to the serving runner, or waits for the next one. */
  dispatch(message: RunnerMessage, tenantId: string | null): Promise<unknown> {
    if (this.client?.ready === true) return this.client.call(message, tenantId)
    if (this.unavailable || this.#waiting.length >= this.#options.maxWaiting) {
      return Promise.reject(new RunnerError('RUNNER_UNAVAILABLE', `runner ${this.index} has been down for ${this.downForMs} ms`))
    }
    this.#armDeadline()
    return new Promise((resolve, reject) => this.#waiting.push({ message, tenantId, resolve, reject }))
  }

  /** The slot's runner was lost; `fresh`: count the time down from now (a slot started late). */
  markDown(fresh = false): void {
    if (fresh) this.#downSince = Date.now()
    else this.#downSince ??= Date.now()
  }

  /** `client` serves the slot from now on: the waiting runs go to it. */
  serve(client: RunnerClient): void {
    this.client = client
    this.#downSince = null
    this.failedStarts = 0
    if (this.#deadline !== null) clearTimeout(this.#deadline)
    this.#deadline = null
    const waiting = this.#waiting
    this.#waiting = []
    for (const call of waiting) client.call(call.message, call.tenantId).then(call.resolve, call.reject)
  }

  failWaiting(reason: string): void {
    if (this.#deadline !== null) clearTimeout(this.#deadline)
    this.#deadline = null
    const waiting = this.#waiting
    this.#waiting = []
    const error = new RunnerError('RUNNER_UNAVAILABLE', reason)
    for (const call of waiting) call.reject(error)
  }

  /** One timer per down period: when the period is over the bound, every waiting run is answered. */
  #armDeadline(): void {
    if (this.#deadline !== null) return
    const left = Math.max(0, this.#options.unavailableAfterMs - this.downForMs)
    this.#deadline = setTimeout(() => {
      this.#deadline = null
      if (!this.serving) this.failWaiting(`runner ${this.index} did not come back within ${this.#options.unavailableAfterMs} ms`)
    }, left)
    this.#deadline.unref()
  }
}
