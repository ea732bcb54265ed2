import { isHeaderPairs, RunTable, type HttpResponseData } from '../runner/index.js'

/** How the data plane writes one run's response before the run ends. */
export interface EarlyResponder {
  /** Writes the whole response, or with `streaming` the status and headers only; false when the client is gone or it was answered. */
  respond(response: HttpResponseData, streaming: boolean): boolean
  /** Writes a chunk of a streamed body; settles true once the client can take more, false when it is gone. */
  chunk(bytes: Uint8Array): Promise<boolean>
  /** Ends a streamed body. */
  end(): void
}

/**
 * Responses handed over before their run ends. A Worker's response goes out when its fetch
 * handler's promise resolves, and a body that is a stream goes out as it is produced; the run
 * (ctx.waitUntil work, the rest of the stream) goes on under its limits. The platform sends the
 * response through the host APIs `run.respond`, `run.chunk` and `run.end` (relayed to the gateway
 * like ctx.db's calls, named by the run's execution id), and the data plane registers each run it
 * starts here. The run's final result still carries a whole response: when the early one did not
 * make it (a runner used without the gateway, a lost race), that is written, as before.
 *
 * @example
 * const early = new EarlyResponses()
 * hostApis.add('run.respond', async (call) => early.respond(call.executionId, call.args[0]), true, false)
 */
export class EarlyResponses {
  /**
   * By a number of this registry's own, not the execution id: a fresh string key is internalized
   * (looked up in V8's string table, and copied into the old generation) on its first use, 2.9% of
   * the gateway thread's time at hello@100 (a perf profile, session 24). The host calls that look
   * a run up by its id are few (a response handed over early, a stream's chunks, each a round trip
   * to the runner already), and walk the runs in flight.
   */
  readonly #waiting = new RunTable<number, { executionId: string; responder: EarlyResponder }>()
  #last = 0

  /** Registers a run's responder until `release(handle)`; returns the handle. */
  register(executionId: string, responder: EarlyResponder): number {
    const handle = ++this.#last
    this.#waiting.set(handle, { executionId, responder })
    return handle
  }

  release(handle: number): void {
    this.#waiting.delete(handle)
  }

  #find(executionId: string | undefined): EarlyResponder | undefined {
    if (executionId === undefined) return undefined
    return this.#waiting.find((entry) => entry.executionId === executionId)?.responder
  }

  /** Writes `response` (`{ status, headers, body, streaming? }`) for the run; false for an unknown run or a response that is not valid. */
  respond(executionId: string | undefined, response: unknown): boolean {
    const responder = this.#find(executionId)
    if (responder === undefined || !isResponse(response)) return false
    return responder.respond({ status: response.status, headers: response.headers, body: response.body }, (response as { streaming?: unknown }).streaming === true)
  }

  /** A chunk of the run's streamed body (an ArrayBuffer); false when there is no such stream or its client is gone. */
  async chunk(executionId: string | undefined, bytes: unknown): Promise<boolean> {
    const responder = this.#find(executionId)
    if (responder === undefined || !(bytes instanceof ArrayBuffer)) return false
    return responder.chunk(new Uint8Array(bytes))
  }

  end(executionId: string | undefined): boolean {
    const responder = this.#find(executionId)
    if (responder === undefined) return false
    responder.end()
    return true
  }

  get size(): number {
    return this.#waiting.size
  }
}

function isResponse(value: unknown): value is HttpResponseData {
  if (typeof value !== 'object' || value === null) return false
  const { status, headers, body } = value as HttpResponseData
  if (!Number.isInteger(status) || status < 200 || status > 599) return false
  if (!isHeaderPairs(headers)) return false
  return body === null || typeof body === 'string' || body instanceof ArrayBuffer
}
