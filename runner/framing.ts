/**
 * The framed protocol between the gateway and its runner processes, over a Unix domain socket.
 *
 * A write is a 4-byte big-endian length and a batch: the frames one side sends in one turn of its
 * event loop leave in one write and are read back together. A batch is JSON text, then the texts
 * and binary bodies of its runs as bytes, then (when it holds any) one `v8.serialize` payload:
 *
 *     0x01 | JSON length (4 bytes) | JSON [entries, V8 length] | texts and bodies... | V8 payload
 *
 * Runs and their answers (the hot path) cross as their fields in order, their JSON texts (a
 * task's `json` and `args`, an answer's `json`) and their body beside them as bytes: a run as
 * `[3, id, tenantId, key, head, near, trace, source | null, body type | null, body length, head
 * length, args length]`, an answer as `[4, id, body type | null, body length, result length]`; a
 * text length of -1 is a text left out (a task's head that the runner holds). A JSON text inside
 * the batch's JSON would be escaped on one side and unescaped on the other, quote by quote (a
 * tenth of the runner's main thread at hello@100), and a frame object's names written and parsed
 * each run. A run or answer of another shape goes as `[1, frame, 't' | 'v', type | null, body
 * length, ...text lengths]`, the frame's texts and body left null. Any other frame
 * that JSON gives back exactly goes in the JSON (`[0, frame]`: most host calls and their
 * answers). The rest (a Date, a Map, bytes or undefined in a host call's values) go in the V8
 * payload, and their entry is `[2, index]`. Why not V8 for all: a V8 serializer or
 * deserializer made per batch keeps every object it saw alive until a full collection (its
 * identity map is a strong root, and its wrapper outlives scavenges), so each run's task,
 * answer and body were promoted to the old generation: measured on the gateway at hello@100,
 * scavenges of 10-15 ms every ~150 ms and a full collection about every second.
 *
 * Frames say what they are by their one distinguishing field, so new kinds can join without
 * touching the old ones (a streamed response body would be `{ bodyChunk: id, bytes, last }`):
 * - `{ id, message }` a request (WireMessage): a run names its program by key (programKey()) and
 *   its head by number (WireTask.head); the source and the head's text ride along only when the
 *   runner is not known to hold them. A run's task and its answer travel as JSON text with any
 *   binary body beside it (protocol.ts WireTask, WireResult), which the runner's main thread
 *   hands to and from its worker threads unread;
 * - `{ id, value } | { id, error }` its answer, in any order;
 * - `{ id, missing: key }` the runner lacks the program's source or the task's head (it let them
 *   go, or restarted): the gateway sends the same request again, source and head attached. The
 *   gateway keeps every request in flight whole until it is answered, which is also what a retry
 *   on a replacement runner needs;
 * - `{ hostCall }`, `{ hostCancel }`, `{ hostReply }` host calls (host-call-channel.ts);
 * - `{ held }`, `{ fence }`, `{ fenced }` a runner without worker threads held by a step (HeldMessage).
 */
import { Buffer } from 'node:buffer'
import { createConnection, type Socket } from 'node:net'
import { deserialize, serialize } from 'node:v8'
import type { ErrorData } from './errors.js'
import type { HostCallMessage, HostCancelMessage, HostReplyMessage } from './host-call-channel.js'
import type { NearDropMessage, NearTouchMessage } from './near-copies.js'
import { isBinary, type NamedTask, type RunTrace, type WireResult, type WireTask } from './protocol.js'

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

/**
 * A runner without worker threads is held by a synchronous step (process/runner-hold.ts): its
 * watcher thread tells the gateway, on the runner's host-call socket, the last run it started
 * (the id's low bits). The gateway runs the runs it sent after that one elsewhere, and sends the
 * runner `{ fence: true }`; the runner, whose thread starts none of them before the fence,
 * answers `{ fenced: true }` once it has read it.
 */
export interface HeldMessage {
  /** The last run started: its id's low bits (RUN_MASK). */
  held: number
}

/** The bits of a run's id a HeldMessage keeps: ids grow by one, and the runs in flight span far fewer. */
export const RUN_MASK = 0x3fffffff

/**
 * The id of the last run a held runner started, from its HeldMessage and the last id the gateway
 * sent it: the largest id not above `lastSent` with those low bits.
 */
export function startedThrough(held: number, lastSent: number): number {
  return lastSent - ((lastSent - held) & RUN_MASK)
}
export interface FenceMessage {
  fence: true
}
export interface FencedMessage {
  fenced: true
}

export type Frame = RunnerRequest | RunnerResponse | MissingProgram | HostCallMessage | HostCancelMessage | HostReplyMessage | NearDropMessage | NearTouchMessage | HeldMessage | FenceMessage | FencedMessage

/** A write larger than this is a protocol error, not a run: bodies and outputs are capped far below. */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024

const HEADER_BYTES = 4
/** The buffer a connected channel's reads land in (FrameChannel.connect): the size of a stream's reads. */
const READ_BYTES = 64 * 1024
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

  /**
   * Frames `socket`. `reads`: 'data' reads it as a stream; 'onread' leaves its reads to the
   * callback it was created with, which hands them to `#receive` (see `connect`).
   */
  constructor(socket: Socket, onFrame: (frame: unknown) => void, onError: (error: Error) => void = (error) => socket.destroy(error), reads: 'data' | 'onread' = 'data') {
    this.#socket = socket
    this.#onFrame = onFrame
    this.#onError = onError
    socket.setNoDelay(true)
    if (reads === 'data') socket.on('data', (chunk: Buffer) => this.#receive(chunk))
  }

  /**
   * Connects to the Unix socket at `path` and frames it. What the socket reads is handed to the
   * channel as it lands (net's `onread`: one buffer the reads go into, copied out of it at once),
   * not through the socket's readable stream: per read, the stream's push, its state and its
   * 'data' event cost about what the channel's own decoding of a batch does.
   */
  static connect(path: string, onFrame: (frame: unknown) => void, onError?: (error: Error) => void): FrameChannel {
    const reads = { channel: null as FrameChannel | null }
    const socket = createConnection({
      path,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BYTES),
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          if (reads.channel !== null) reads.channel.#receive(Buffer.from(buffer.subarray(0, bytes)))
          return true
        },
      },
    })
    reads.channel = new FrameChannel(socket, onFrame, onError, 'onread')
    return reads.channel
  }

  /** The framed socket: its 'connect', 'error' and 'close' are the caller's to follow. */
  get socket(): Socket {
    return this.#socket
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
    if (this.#socket.destroyed) return
    const parts = encodeBatch(frames, fallbacks)
    let length = 0
    for (const part of parts) length += part.byteLength
    if (length <= COPY_BELOW_BYTES) {
      // One buffer, one write: copying a small batch costs less than a second write request.
      const bytes = Buffer.allocUnsafe(HEADER_BYTES + length)
      bytes.writeUInt32BE(length, 0)
      let offset = HEADER_BYTES
      for (const part of parts) {
        bytes.set(part, offset)
        offset += part.byteLength
      }
      this.#socket.write(bytes)
      return
    }
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header.writeUInt32BE(length, 0)
    this.#socket.cork()
    this.#socket.write(header)
    for (const part of parts) this.#socket.write(part)
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
      let frames: unknown[]
      try {
        frames = decodeBatch(payload)
      } catch (error) {
        this.#onError(new Error('a runner write does not decode', { cause: error }))
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

/** The first byte of a batch (a V8 payload starts with 0xff). */
const BATCH_VERSION = 0x01
/** Version byte and JSON length. */
const BATCH_HEAD_BYTES = 5

type BodyType = 'u8' | 'buf' | 'ab'
/** Where a run's body sits in its frame: the task of a request, the value of an answer. */
type BodyPlace = 't' | 'v'
type Entry =
  | [0, unknown]
  | [1, unknown, BodyPlace, BodyType | null, number, ...number[]]
  | [2, number]
  /** A plain run request (isPlainRunRequest): id, the task's fields, its body's type and length, its head's and args' text lengths. */
  | [3, number, string, string, number, number, RunTrace | null, string | null, BodyType | null, number, number, number]
  /** A plain run answer (isPlainAnswer): id, the body's type and length, the result's text length. */
  | [4, number, BodyType | null, number, number]
/** A run request as it goes on the wire. */
type RunRequest = RunnerRequest & { message: { type: 'run'; task: WireTask } }

/** Where the body of a frame that crosses as JSON sits; null for a frame that goes in the V8 payload. */
function jsonPlace(frame: Frame): BodyPlace | 'none' | null {
  if ('message' in frame && frame.message.type === 'run' && isWireTask(frame.message.task)) return 't'
  if ('value' in frame && !('error' in frame) && isWireResult(frame.value)) return 'v'
  return jsonSafe(frame, 0) ? 'none' : null
}

/** Deeper than this, a value goes in the V8 part (which has its own limits) rather than be walked. */
const MAX_JSON_DEPTH = 32

/**
 * Whether JSON gives `value` back exactly as the V8 serializer would: null, booleans, strings,
 * finite numbers other than -0, arrays without holes or extra properties, and plain objects of
 * those. Anything else (undefined, NaN, a Date, a Map, bytes, a class instance) is not.
 */
function jsonSafe(value: unknown, depth: number): boolean {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return true
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0)
  if (typeof value !== 'object' || depth > MAX_JSON_DEPTH) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!(i in value) || !jsonSafe(value[i], depth + 1)) return false
    return Object.keys(value).length === value.length
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return false
  for (const key of Object.keys(value)) if (!jsonSafe((value as Record<string, unknown>)[key], depth + 1)) return false
  return true
}

/**
 * A run request of the fields RunnerClient sends (WireMessage's run, its task a WireTask): it
 * crosses as those fields in order (entry 3). Anything else crosses as the frame it is (entry 1).
 */
function isPlainRunRequest(request: RunRequest): boolean {
  const task = request.message.task
  if (typeof request.id !== 'number' || typeof task.tenantId !== 'string' || typeof task.key !== 'string') return false
  if (typeof task.head !== 'number' || typeof task.near !== 'number') return false
  return (task.source === undefined || typeof task.source === 'string') && (task.trace === null || typeof task.trace === 'object')
}

/** A run's answer (its id and its value): it crosses as entry 4. */
function isPlainAnswer(answer: RunnerResponse): boolean {
  return typeof answer.id === 'number'
}

function isWireTask(task: WireTask): boolean {
  return (task.json === undefined || typeof task.json === 'string') && typeof task.args === 'string' && (task.body === null || isBinary(task.body))
}

function isWireResult(value: unknown): value is WireResult {
  if (typeof value !== 'object' || value === null) return false
  const { json, body } = value as Partial<WireResult>
  return typeof json === 'string' && (body === null || isBinary(body)) && Object.keys(value).length === 2
}

function bodyType(body: ArrayBuffer | Uint8Array): BodyType {
  return body instanceof ArrayBuffer ? 'ab' : Buffer.isBuffer(body) ? 'buf' : 'u8'
}

/** A batch's parts, in order: head and JSON, texts and bodies, and the V8 payload if any. */
function encodeBatch(frames: Frame[], fallbacks: Array<Frame | undefined>): Uint8Array[] {
  const entries: Entry[] = []
  /** The texts and bodies of the JSON entries, in order. */
  const beside: Uint8Array[] = []
  const inV8: Array<{ frame: Frame; fallback: Frame | undefined; entry: number }> = []
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i] as Frame
    const place = jsonPlace(frame)
    if (place === null) {
      inV8.push({ frame, fallback: fallbacks[i], entry: entries.length })
      entries.push([2, inV8.length - 1])
      continue
    }
    if (place === 'none') {
      entries.push([0, frame])
      continue
    }
    // The frame as it crosses, its texts and body beside it: the sender's own frame is left as it is.
    let bare: Frame | null = null
    /** A text left out (a head the runner holds) is sent as length -1. */
    let texts: Array<string | undefined>
    let body: ArrayBuffer | Uint8Array | null
    if (place === 't') {
      const request = frame as RunRequest
      const task = request.message.task
      if (!isPlainRunRequest(request)) bare = { ...request, message: { ...request.message, task: { ...task, json: null, args: null, body: null } } } as unknown as Frame
      texts = [task.json, task.args]
      body = task.body
    } else {
      const answer = frame as RunnerResponse
      const value = answer.value as WireResult
      if (!isPlainAnswer(answer)) bare = { ...answer, value: { json: null, body: null } }
      texts = [value.json]
      body = value.body
    }
    const lengths: number[] = []
    for (const text of texts) {
      if (text === undefined) {
        lengths.push(-1)
        continue
      }
      const bytes = Buffer.from(text, 'utf8')
      lengths.push(bytes.byteLength)
      beside.push(bytes)
    }
    const bytes = body === null ? null : body instanceof ArrayBuffer ? new Uint8Array(body) : body
    const type = body === null ? null : bodyType(body)
    const bodyLength = bytes === null ? 0 : bytes.byteLength
    if (bare !== null) entries.push([1, bare, place, type, bodyLength, ...lengths])
    else if (place === 't') {
      // The usual run and answer: their fields in order, no frame object to write or parse.
      const { id, message } = frame as RunRequest
      const { tenantId, key, head, near, trace, source } = message.task
      entries.push([3, id, tenantId, key, head, near, trace, source ?? null, type, bodyLength, lengths[0] as number, lengths[1] as number])
    } else entries.push([4, (frame as RunnerResponse).id, type, bodyLength, lengths[0] as number])
    if (bytes !== null) beside.push(bytes)
  }
  const v8 = inV8.length === 0 ? null : serializeFrames(inV8, entries)
  const kept = entries.includes(DROPPED) ? entries.filter((entry) => entry !== DROPPED) : entries
  const json = Buffer.from(JSON.stringify([kept, v8?.byteLength ?? 0]))
  const head = Buffer.allocUnsafe(BATCH_HEAD_BYTES)
  head.writeUInt8(BATCH_VERSION, 0)
  head.writeUInt32BE(json.byteLength, 1)
  return v8 === null ? [head, json, ...beside] : [head, json, ...beside, v8]
}

/** The entry of a frame that did not serialize and had no fallback: left out of the batch. */
const DROPPED = [2, -1] as Entry

/** The V8 payload of a batch's other frames; a frame that does not serialize goes as its fallback, or not at all (its entry dropped). */
function serializeFrames(inV8: Array<{ frame: Frame; fallback: Frame | undefined; entry: number }>, entries: Entry[]): Buffer {
  try {
    return serialize(inV8.map((item) => item.frame))
  } catch {
    const kept: Frame[] = []
    for (const item of inV8) {
      const frame = serializable(item.frame, item.fallback)
      if (frame === null) entries[item.entry] = DROPPED
      else {
        entries[item.entry] = [2, kept.length]
        kept.push(frame)
      }
    }
    return serialize(kept)
  }
}

/** The frames of one batch (encodeBatch), in the order they were sent. */
function decodeBatch(payload: Buffer): unknown[] {
  if (payload.byteLength < BATCH_HEAD_BYTES || payload.readUInt8(0) !== BATCH_VERSION) throw new Error('not a batch of this version')
  const jsonEnd = BATCH_HEAD_BYTES + payload.readUInt32BE(1)
  const [entries, v8Bytes] = JSON.parse(payload.toString('utf8', BATCH_HEAD_BYTES, jsonEnd)) as [Entry[], number]
  const v8Frames = v8Bytes > 0 ? (deserialize(payload.subarray(payload.byteLength - v8Bytes)) as unknown[]) : []
  const frames: unknown[] = []
  let offset = jsonEnd
  const text = (length: number): string | undefined => {
    if (length === -1) return undefined
    if (offset + length > payload.byteLength) throw new Error('a text runs past its batch')
    const value = payload.toString('utf8', offset, offset + length)
    offset += length
    return value
  }
  const bodyOf = (type: BodyType | null, length: number): ArrayBuffer | Uint8Array | null => {
    const body = type === null ? null : copyBody(payload, offset, length, type)
    offset += length
    return body
  }
  for (const entry of entries) {
    if (entry[0] === 0) frames.push(entry[1])
    else if (entry[0] === 2) frames.push(v8Frames[entry[1]])
    else if (entry[0] === 3) {
      const [, id, tenantId, key, head, near, trace, source, type, bodyLength, jsonLength, argsLength] = entry
      const json = text(jsonLength)
      const args = text(argsLength) as string
      const body = bodyOf(type, bodyLength) as Uint8Array | null
      const task: WireTask = { tenantId, key, source: source ?? undefined, head, json, trace, near, args, body }
      frames.push({ id, message: { type: 'run', task } })
    } else if (entry[0] === 4) {
      const [, id, type, bodyLength, jsonLength] = entry
      const json = text(jsonLength) as string
      frames.push({ id, value: { json, body: bodyOf(type, bodyLength) } })
    } else {
      const [, frame, place, type, length, ...lengths] = entry
      const texts: Array<string | undefined> = []
      for (const textLength of lengths) {
        if (textLength === -1) {
          texts.push(undefined)
          continue
        }
        if (offset + textLength > payload.byteLength) throw new Error('a text runs past its batch')
        texts.push(payload.toString('utf8', offset, offset + textLength))
        offset += textLength
      }
      const body = type === null ? null : copyBody(payload, offset, length, type)
      offset += length
      if (place === 't') Object.assign((frame as { message: { task: object } }).message.task, { json: texts[0], args: texts[1], body })
      else Object.assign((frame as { value: object }).value, { json: texts[0], body })
      frames.push(frame)
    }
  }
  return frames
}

/** A body's own copy, of the type it was sent as (the batch's memory may be a larger read's). */
function copyBody(payload: Buffer, offset: number, length: number, type: BodyType): ArrayBuffer | Uint8Array {
  const bytes = payload.subarray(offset, offset + length)
  if (bytes.byteLength !== length) throw new Error('a body runs past its batch')
  if (type === 'buf') return Buffer.from(bytes)
  const copy = new Uint8Array(bytes)
  return type === 'ab' ? copy.buffer : copy
}

/** The frame, or its fallback when it does not serialize, or null (a bug: said, not thrown). */
function serializable(frame: Frame, fallback: Frame | undefined): Frame | null {
  try {
    serialize(frame)
    return frame
  } catch (error) {
    if (fallback !== undefined) return fallback
    process.emitWarning(new Error('a runner frame does not serialize and was dropped', { cause: error }))
    return null
  }
}
