/**
 * The framed protocol between the gateway and its runner processes, over a Unix domain socket.
 *
 * A frame is a 4-byte big-endian length and a `v8.serialize` payload: the V8 serializer keeps
 * Uint8Array and ArrayBuffer bodies as bytes (JSON would not) and is what structured clone uses
 * between threads, so a run crosses the process hop the same way it crosses the thread hop.
 * Requests carry an id; responses carry the id of their request and may come back in any order.
 */
import type { Socket } from 'node:net'
import { deserialize, serialize } from 'node:v8'
import type { ErrorData } from './errors.js'
import type { HostCallMessage, HostCancelMessage, HostReplyMessage } from './host-call-channel.js'
import type { WorkerMessage } from './thread/worker.js'

/** A request to a runner process. */
export interface RunnerRequest {
  id: number
  message: WorkerMessage
}

/** The answer to `RunnerRequest` `id`: its value, or the error it ended with, as plain data. */
export interface RunnerResponse {
  id: number
  value?: unknown
  error?: ErrorData | undefined
}

/**
 * Host calls ride the same socket (host-call-channel.ts): a runner's scripts call the gateway
 * (`hostCall`, `hostCancel`) and the gateway answers (`hostReply`).
 */
export type Frame = RunnerRequest | RunnerResponse | HostCallMessage | HostCancelMessage | HostReplyMessage

/** A frame larger than this is a protocol error, not a run: bodies and outputs are capped far below. */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024

const HEADER_BYTES = 4

/**
 * One end of a framed socket. `send` does not write at once: frames queued in the same turn of
 * the event loop leave in one `write` (one syscall) from a `setImmediate`, so under load many
 * runs share a write, and an idle call waits only until the end of the current loop turn.
 *
 * @example
 * const channel = new FrameChannel(socket, (value) => handle(value as RunnerRequest))
 * channel.send({ id: 1, value: result })
 */
export class FrameChannel {
  readonly #socket: Socket
  readonly #onFrame: (value: unknown) => void
  readonly #onError: (error: Error) => void
  #outgoing: Buffer[] = []
  #flushScheduled = false
  #incoming: Buffer[] = []
  #incomingBytes = 0
  /** Length of the frame being read, or -1 while its header has not arrived. */
  #expected = -1

  constructor(socket: Socket, onFrame: (value: unknown) => void, onError: (error: Error) => void = (error) => socket.destroy(error)) {
    this.#socket = socket
    this.#onFrame = onFrame
    this.#onError = onError
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#receive(chunk))
  }

  send(value: Frame): void {
    const payload = serialize(value)
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header.writeUInt32BE(payload.length, 0)
    this.#outgoing.push(header, payload)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    setImmediate(() => this.flush())
  }

  /** Writes every queued frame now, in one write. */
  flush(): void {
    this.#flushScheduled = false
    if (this.#outgoing.length === 0) return
    const frames = this.#outgoing.length === 1 ? (this.#outgoing[0] as Buffer) : Buffer.concat(this.#outgoing)
    this.#outgoing = []
    if (!this.#socket.destroyed) this.#socket.write(frames)
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
      let value: unknown
      try {
        value = deserialize(payload)
      } catch (error) {
        this.#onError(new Error('a runner frame does not deserialize', { cause: error }))
        return
      }
      this.#onFrame(value)
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
