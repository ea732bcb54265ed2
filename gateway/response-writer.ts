import { Buffer } from 'node:buffer'
import { STATUS_CODES } from 'node:http'
import { runFailureStatus, type RunResult } from '../runner/index.js'
import type { Uws } from './uws.js'

/** A request's life: the client may go away (aborted); only one answer is written (answered). */
export interface RequestState {
  aborted: boolean
  answered: boolean
  /**
   * The run's streamed response, told when the client goes away (it wakes a writer waiting for
   * the client). A field from the start, holding the stream itself: a closure over the run added
   * later kept requests' objects alive through scavenges under load (bisected with --trace-gc,
   * not explained; runner/run-table.ts has a cause of the same kind that is).
   */
  stream?: { aborted(): void } | null
}

/** The run's id on every response of a run (success or failure): what `isogate logs <id>` takes. */
export const EXECUTION_ID_HEADER = 'isogate-execution-id'

/** Headers the gateway owns: uWS writes Content-Length itself, and the connection is ours. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade'])

/** uWS writes the status line as given: add the reason phrase clients and proxies expect. */
export function statusLine(status: number): string {
  let line = STATUS_LINES[status]
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? ''}`.trimEnd()
    if (status >= 100 && status <= 999) STATUS_LINES[status] = line
  }
  return line
}

/** Status lines by status, made once each (a status is an integer of 100-999: see the run's response checks). */
const STATUS_LINES: Array<string | undefined> = []

/** Writes a JSON error `{error: {code, message, executionId?}}`; nothing if already answered or aborted. */
export function writeError(
  res: Uws.HttpResponse,
  state: RequestState,
  status: number,
  error: { code: string; message: string; executionId?: string | undefined },
  headers: Array<[string, string]> = [],
  close = false,
): void {
  if (state.aborted || state.answered) return
  state.answered = true
  res.cork(() => {
    res.writeStatus(statusLine(status))
    res.writeHeader('content-type', 'application/json')
    if (error.executionId !== undefined) res.writeHeader(EXECUTION_ID_HEADER, error.executionId)
    for (const [name, value] of headers) res.writeHeader(name, value)
    res.end(JSON.stringify({ error: error.executionId === undefined ? { code: error.code, message: error.message } : error }), close)
  })
}

/**
 * Writes a run's result, corked. Large bodies go out with tryEnd and continue on onWritable, so a
 * slow client holds back this response only, not the server's memory.
 */
export function writeRunResult(res: Uws.HttpResponse, state: RequestState, method: string, result: RunResult, executionId: string): number {
  if (!result.ok || result.response === undefined) {
    const code = result.error?.code ?? 'SCRIPT_ERROR'
    const status = runFailureStatus(code)
    const message = code === 'SCRIPT_ERROR' ? 'The script threw an uncaught error' : (result.error?.message ?? code)
    writeError(res, state, status, { code, message, executionId })
    return status
  }
  const { status, headers, body } = result.response
  if (state.aborted || state.answered) return status
  state.answered = true
  res.cork(() => {
    res.writeStatus(statusLine(status))
    res.writeHeader(EXECUTION_ID_HEADER, executionId)
    for (const [name, value] of headers) {
      if (!HOP_BY_HOP.has(name) && name !== EXECUTION_ID_HEADER) res.writeHeader(name, value)
    }
    if (method === 'HEAD') {
      const length = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
      res.endWithoutBody(length)
      return
    }
    if (body === null) {
      res.end()
      return
    }
    writeWithBackpressure(res, state, typeof body === 'string' ? body : new Uint8Array(body))
  })
  return status
}

/** A text body goes to uWS as it is (most bodies are written whole at once); its bytes are made only if the client is slow. */
function writeWithBackpressure(res: Uws.HttpResponse, state: RequestState, body: string | Uint8Array): void {
  const total = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
  // Body bytes written before this call: onWritable reports offsets on the same scale.
  const start = res.getWriteOffset()
  const [ok, done] = res.tryEnd(body, total)
  if (ok || done) return
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  res.onWritable((offset) => {
    if (state.aborted) return true
    const [sent, finished] = res.tryEnd(bytes.subarray(offset - start), total)
    return sent || finished
  })
}
