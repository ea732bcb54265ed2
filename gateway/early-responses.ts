import type { HttpResponseData } from '../runner/index.js'

/** Writes a run's response to its client now; false when the request is gone or answered. */
export type EarlyResponder = (response: HttpResponseData) => boolean

/**
 * Responses handed over before their run ends. A Worker's response goes out when its fetch
 * handler's promise resolves; `ctx.waitUntil` work then goes on under the run's limits. The
 * platform sends the response through the host API `run.respond` (relayed to the gateway, named
 * by the run's execution id) while the waitUntil work runs; the data plane registers each run it
 * starts here and writes what arrives. The run's final result still carries the response: when
 * the early one did not make it (a runner used without the gateway, a lost race), it is written
 * then, as before.
 *
 * @example
 * const early = new EarlyResponses()
 * hostApis.add('run.respond', async (call) => early.respond(call.executionId, call.args[0]), true, false)
 */
export class EarlyResponses {
  readonly #waiting = new Map<string, EarlyResponder>()

  /** Registers a run's responder until `release`. */
  register(executionId: string, responder: EarlyResponder): void {
    this.#waiting.set(executionId, responder)
  }

  release(executionId: string): void {
    this.#waiting.delete(executionId)
  }

  /** Writes `response` for the run, once; false for an unknown run or a response that is not valid. */
  respond(executionId: string | undefined, response: unknown): boolean {
    if (executionId === undefined) return false
    const responder = this.#waiting.get(executionId)
    if (responder === undefined || !isResponse(response)) return false
    this.#waiting.delete(executionId)
    return responder(response)
  }

  get size(): number {
    return this.#waiting.size
  }
}

function isResponse(value: unknown): value is HttpResponseData {
  if (typeof value !== 'object' || value === null) return false
  const { status, headers, body } = value as HttpResponseData
  if (!Number.isInteger(status) || status < 200 || status > 599) return false
  if (!Array.isArray(headers) || !headers.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string')) return false
  return body === null || typeof body === 'string' || body instanceof ArrayBuffer
}
