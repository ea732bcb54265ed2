/**
 * The framed protocol between the gateway and its runner processes, over a Unix domain socket.
 *
 * A write is a 4-byte big-endian length and a `v8.serialize` payload holding an array of frames:
 * the frames one side sends in one turn of its event loop leave in one write and one
 * serialization, and are read back with one deserialization. The V8 serializer keeps Uint8Array
 * and ArrayBuffer bodies as bytes (JSON would not) and is what structured clone uses between
 * threads, so a run crosses the process hop the same way it crosses the thread hop.
 *
 * Frames say what they are by their one distinguishing field, so new kinds can join without
 * touching the old ones (a streamed response body would be `{ bodyChunk: id, bytes, last }`):
 * - `{ id, message }` a request (WireMessage): a run names its program by key (programKey());
 *   its source rides along only when the runner is not known to hold it. A run's task and its
 *   answer travel as JSON text with any binary body beside it (protocol.ts WireTask,
 *   WireResult), which the runner's main thread hands to and from its worker threads unread;
 * - `{ id, value } | { id, error }` its answer, in any order;
 * - `{ id, missing: key }` the runner lacks the program's source (it evicted it, or restarted):
 *   the gateway sends the same request again, source attached. The gateway keeps every request
 *   in flight whole until it is answered, which is also what a retry on a replacement runner
 *   needs;
 * - `{ hostCall }`, `{ hostCancel }`, `{ hostReply }` host calls (host-call-channel.ts).
 */
import type { Socket } from 'node:net'
import { deserialize, serialize } from 'node:v8'
import type { ErrorData } from './errors.js'
import type { HostCallMessage, HostCancelMessage, HostReplyMessage } from './host-call-channel.js'
import type { NamedTask, WireTask } from './protocol.js'

/** What the gateway asks of a runner process. */
export type RunnerMessage =
  | { type: 'run'; task: NamedTask }
  | { type: 'check'; source: string }
  | { type: 'stats' }
  /** Let go of a tenant's isolates and programs now (a deleted or suspended tenant); answers `Evicted`. */
  | { type: 'evict'; tenantId: string }

/** A request as it goes on the wire: a run's task encoded (protocol.ts WireTask), the rest as they are. */
export type WireMessage = { type: 'run'; task: WireTask } | Exclude<RunnerMessage, { type: 'run' }>

/** A request to a runner process. */
export interface RunnerRequest {
  id: number
  message: WireMessage
}

/** The answer to `RunnerRequest` `id`: its value, or the error it ended with, as plain data. */
export interface RunnerResponse {
  id: number
  value?: unknown
  error?: ErrorData | undefined
}

/** The runner lacks the source of program `missing` that request `id` runs: send it again with the source. */
export interface MissingProgram {
  id: number
  missing: string
}

export type Frame = RunnerRequest | RunnerResponse | MissingProgram | HostCallMessage | HostCancelMessage | HostReplyMessage

/** A write larger than this is a protocol error, not a run: bodies and outputs are capped far below. */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024

const HEADER_BYTES = 4
/** Payloads up to this size are copied behind their header and written once; larger ones go as two writes, corked. */
const COPY_BELOW_BYTES = 64 * 1024

/**
 * One end of a framed socket. The first frame sent after an idle turn is written at once (a lone
 * call, such as one `ctx.cache.get`, waits for nothing); while frames keep coming, those sent in
 * one turn of the event loop are written together from a `setImmediate` at its end, so under load
 * many runs share a write and a serialization.
 *
 * @example
 * const channel = new FrameChannel(socket, (frame) => handle(frame as RunnerRequest))
 * channel.send({ id: 1, value: result })
 */
export class FrameChannel {
  readonly #socket: Socket
  readonly #onFrame: (frame: unknown) => void
  readonly #onError: (error: Error) => void
  #outgoing: Frame[] = []
  /** Frames to send instead of the frame at the same index when that one does not serialize. */
  #fallbacks: Array<Frame | undefined> = []
  /** A turn is open: frames wait for its end. It closes after a turn that sent nothing. */
  #turnOpen = false
  readonly #endTurn = (): void => {
    if (this.#outgoing.length === 0) {
      this.#turnOpen = false
      return
    }
    this.flush()
    setImmediate(this.#endTurn)
  }
  #incoming: Buffer[] = []
  #incomingBytes = 0
  /** Length of the frame being read, or -1 while its header has not arrived. */
  #expected = -1

  constructor(socket: Socket, onFrame: (frame: unknown) => void, onError: (error: Error) => void = (error) => socket.destroy(error)) {
    this.#socket = socket
    this.#onFrame = onFrame
    this.#onError = onError
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#receive(chunk))
  }

  /**
   * Queues a frame. `fallback` is sent in its place if it does not serialize (a host API that
   * answered a function): the other side must still get an answer.
   */
  send(frame: Frame, fallback?: Frame): void {
    this.#outgoing.push(frame)
    this.#fallbacks.push(fallback)
    if (this.#turnOpen) return
    this.#turnOpen = true
    this.flush()
    setImmediate(this.#endTurn)
  }

  /** Writes every queued frame now, in one write. */
  flush(): void {
    if (this.#outgoing.length === 0) return
    const frames = this.#outgoing
    const fallbacks = this.#fallbacks
    this.#outgoing = []
    this.#fallbacks = []
    let payload: Buffer
    try {
      payload = serialize(frames)
    } catch {
      payload = serialize(frames.flatMap((frame, i) => serializable(frame, fallbacks[i])))
    }
    if (this.#socket.destroyed) return
    if (payload.length <= COPY_BELOW_BYTES) {
      // One buffer, one write: copying a small payload costs less than a second write request.
      const bytes = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
      bytes.writeUInt32BE(payload.length, 0)
      payload.copy(bytes, HEADER_BYTES)
      this.#socket.write(bytes)
      return
    }
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header.writeUInt32BE(payload.length, 0)
    this.#socket.cork()
    this.#socket.write(header)
    this.#socket.write(payload)
    this.#socket.uncork()
  }

  #receive(chunk: Buffer): void {
    this.#incoming.push(chunk)
    this.#incomingBytes += chunk.length
    for (;;) {
      if (this.#expected < 0) {
        if (this.#incomingBytes < HEADER_BYTES) return
        const length = this.#take(HEADER_BYTES).readUInt32BE(0)
        if (length > MAX_FRAME_BYTES) {
          this.#onError(new Error(`a runner frame of ${length} bytes is over the ${MAX_FRAME_BYTES} byte limit`))
          return
        }
        this.#expected = length
      }
      if (this.#incomingBytes < this.#expected) return
      const payload = this.#take(this.#expected)
      this.#expected = -1
      let frames: unknown
      try {
        frames = deserialize(payload)
      } catch (error) {
        this.#onError(new Error('a runner frame does not deserialize', { cause: error }))
        return
      }
      if (!Array.isArray(frames)) {
        this.#onError(new Error('a runner write does not hold an array of frames'))
        return
      }
      for (const frame of frames) this.#onFrame(frame)
    }
  }

  /** The next `bytes` bytes of the input; copies only when they span chunks. */
  #take(bytes: number): Buffer {
    this.#incomingBytes -= bytes
    const first = this.#incoming[0] as Buffer
    if (first.length >= bytes) {
      if (first.length === bytes) this.#incoming.shift()
      else this.#incoming[0] = first.subarray(bytes)
      return first.subarray(0, bytes)
    }
    const out = Buffer.allocUnsafe(bytes)
    let filled = 0
    while (filled < bytes) {
      const chunk = this.#incoming[0] as Buffer
      const used = Math.min(chunk.length, bytes - filled)
      chunk.copy(out, filled, 0, used)
      filled += used
      if (used === chunk.length) this.#incoming.shift()
      else this.#incoming[0] = chunk.subarray(used)
    }
    return out
  }
}

/** The frame, or its fallback when it does not serialize, or nothing (a bug: said, not thrown). */
function serializable(frame: Frame, fallback: Frame | undefined): Frame[] {
  try {
    serialize(frame)
    return [frame]
  } catch (error) {
    if (fallback !== undefined) return [fallback]
    process.emitWarning(new Error('a runner frame does not serialize and was dropped', { cause: error }))
    return []
  }
}
