import type { HttpResponseData } from '../runner/index.js'
import { statusLine, type RequestState } from './response-writer.js'
import type { Uws } from './uws.js'

/** Headers the gateway owns (see response-writer.ts). */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade'])

/**
 * One response written while its run goes on: the status and headers first, then the body in
 * chunks as the script produces them (chunked transfer encoding), each written corked. A chunk
 * is acknowledged once uWS has no backpressure left, so a slow client slows the script's stream
 * instead of filling the gateway's memory. If the run ends without ending the body (a limit, an
 * error), the connection is closed, so the client sees a cut body, never a complete-looking one.
 */
export class StreamedResponse {
  readonly #res: Uws.HttpResponse
  readonly #state: RequestState
  readonly #head: boolean
  #open = false
  #waiting: (() => void) | null = null

  constructor(res: Uws.HttpResponse, state: RequestState, method: string) {
    this.#res = res
    this.#state = state
    this.#head = method === 'HEAD'
  }

  get open(): boolean {
    return this.#open
  }

  start(response: HttpResponseData): boolean {
    if (this.#state.aborted || this.#state.answered) return false
    this.#state.answered = true
    this.#open = true
    this.#res.cork(() => {
      this.#res.writeStatus(statusLine(response.status))
      for (const [name, value] of response.headers) {
        if (!HOP_BY_HOP.has(name)) this.#res.writeHeader(name, value)
      }
      if (this.#head) {
        this.#res.endWithoutBody()
        this.#open = false
      }
    })
    return true
  }

  chunk(bytes: Uint8Array): Promise<boolean> {
    if (!this.#open || this.#state.aborted) return Promise.resolve(false)
    let flowing = true
    this.#res.cork(() => {
      flowing = this.#res.write(bytes)
    })
    if (flowing) return Promise.resolve(true)
    return new Promise((resolve) => {
      this.#waiting = () => resolve(!this.#state.aborted)
      this.#res.onWritable(() => {
        const wake = this.#waiting
        this.#waiting = null
        wake?.()
        return true
      })
    })
  }

  end(): void {
    if (!this.#open) return
    this.#open = false
    if (!this.#state.aborted) this.#res.cork(() => this.#res.end())
  }

  /** The run ended without ending the body: cut the connection. */
  cut(): void {
    if (!this.#open) return
    this.#open = false
    if (!this.#state.aborted) this.#res.close()
  }

  /** The client went away: a chunk waiting for it gives up. */
  aborted(): void {
    const wake = this.#waiting
    this.#waiting = null
    wake?.()
  }
}
