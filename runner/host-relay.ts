/**
 * Host APIs answered outside the worker thread: a script's `ctx.db.get(...)` runs in a worker
 * thread of a runner process, but the database, the tenant caches and the outbound HTTP client
 * live in the gateway process. A relayed call travels worker thread -> the thread that owns the
 * IsolatePool (over a BroadcastChannel) -> the gateway (over the runner's framed socket, see
 * runner-process.ts) and back, as plain data all the way.
 *
 * BroadcastChannel rather than a MessagePort handed to each worker: piscina replaces a crashed
 * thread on its own, and a replacement finds the channel by name with no handshake. Requests go
 * on one channel the pool side listens to; each thread listens for its answers on a channel of
 * its own (`{name}:{threadId}`), so an answer is delivered to one thread only.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import type { ErrorData } from './errors.js'
import type { HostCall, HostRegistry } from './thread/host-bridge.js'

/** A host API answered outside the worker: its name ('db.get') and whether scripts see it on ctx. */
export interface RemoteHostApi {
  name: string
  expose: boolean
}

/** One relayed call: the tenant is the one the worker's bridge bound, never the script's say. */
export interface RelayedHostCall {
  tenantId: string
  name: string
  args: unknown[]
  /** The run making the call, when the caller named it (RunTask.trace). */
  executionId?: string | undefined
  eventDepth?: number | null | undefined
  scriptId?: string | undefined
}

/** Answers relayed calls; rejects (or throws) with an Error whose name, message and code reach the script. */
export type HostCallHandler = (call: RelayedHostCall, signal: AbortSignal) => Promise<unknown>

/** The answer to a relayed call, as plain data. */
export type HostAnswer = { ok: true; value: unknown } | { ok: false; error: ErrorData }

type Request = { id: number; thread: number; call: RelayedHostCall } | { cancel: number; thread: number }
type Reply = { id: number; answer: HostAnswer }

/** What a worker thread needs to reach the relay: the channel's name and the APIs to register. */
export interface HostRelaySettings {
  channel: string
  apis: RemoteHostApi[]
}

/**
 * The pool side: listens for calls from the pool's worker threads and answers them with `handler`.
 *
 * @example
 * const relay = new HostRelay(async ({ tenantId, name, args }) => services.call(tenantId, name, args), apis)
 * const pool = new IsolatePool({ ... }) // gets relay.settings in its workers' settings
 */
export class HostRelay {
  readonly settings: HostRelaySettings
  readonly #handler: HostCallHandler
  readonly #requests: BroadcastChannel
  readonly #replies = new Map<number, BroadcastChannel>()
  /** `${thread}:${id}` -> the call's controller, so a cancel from the worker reaches it. */
  readonly #inFlight = new Map<string, AbortController>()
  #closed = false

  constructor(handler: HostCallHandler, apis: readonly RemoteHostApi[]) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function')
    this.#handler = handler
    this.settings = { channel: `isogate-host-${randomBytes(8).toString('hex')}`, apis: apis.map(({ name, expose }) => ({ name, expose })) }
    this.#requests = new BroadcastChannel(this.settings.channel)
    this.#requests.onmessage = (event) => this.#receive((event as { data: Request }).data)
    // Worker threads keep their own process alive; this channel must not keep a pool's owner alive.
    this.#requests.unref()
  }

  get inFlight(): number {
    return this.#inFlight.size
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const controller of this.#inFlight.values()) controller.abort()
    this.#inFlight.clear()
    this.#requests.close()
    for (const channel of this.#replies.values()) channel.close()
    this.#replies.clear()
  }

  #receive(request: Request): void {
    if (this.#closed) return
    if ('cancel' in request) {
      this.#inFlight.get(`${request.thread}:${request.cancel}`)?.abort()
      return
    }
    const key = `${request.thread}:${request.id}`
    const controller = new AbortController()
    this.#inFlight.set(key, controller)
    let pending: Promise<unknown>
    try {
      pending = Promise.resolve(this.#handler(request.call, controller.signal))
    } catch (error) {
      pending = Promise.reject(error)
    }
    pending.then(
      (value) => this.#reply(key, request, { ok: true, value }),
      (error: unknown) => this.#reply(key, request, { ok: false, error: hostErrorData(error) }),
    )
  }

  #reply(key: string, request: { id: number; thread: number }, answer: HostAnswer): void {
    this.#inFlight.delete(key)
    if (this.#closed) return
    let channel = this.#replies.get(request.thread)
    if (channel === undefined) {
      channel = new BroadcastChannel(`${this.settings.channel}:${request.thread}`)
      channel.unref()
      this.#replies.set(request.thread, channel)
    }
    try {
      channel.postMessage({ id: request.id, answer } satisfies Reply)
    } catch {
      // A value that does not clone must still answer the call, or the script waits forever.
      const failure: ErrorData = { code: 'HOST_CALL_FAILED', name: 'Error', message: 'the host API answered a value that cannot be copied' }
      channel.postMessage({ id: request.id, answer: { ok: false, error: failure } } satisfies Reply)
    }
  }
}

/**
 * The worker side: registers every relayed API in `registry`, each forwarding its calls to the
 * pool's HostRelay. The returned function closes the channels (the worker's end).
 */
export function registerRemoteHostApis(registry: HostRegistry, settings: HostRelaySettings): () => void {
  const requests = new BroadcastChannel(settings.channel)
  const replies = new BroadcastChannel(`${settings.channel}:${threadId}`)
  const waiting = new Map<number, (answer: HostAnswer) => void>()
  let nextId = 1
  replies.onmessage = (event) => {
    const { id, answer } = (event as { data: Reply }).data
    const resolve = waiting.get(id)
    if (resolve === undefined) return
    waiting.delete(id)
    resolve(answer)
  }
  requests.unref()
  // Only while a call waits for its answer does the channel hold the thread's event loop.
  replies.unref()

  for (const api of settings.apis) {
    registry.register(api.name, (tenantId: string, args: unknown[], call: HostCall) => {
      const id = nextId++
      return new Promise<unknown>((resolve, reject) => {
        const onAbort = (): void => requests.postMessage({ cancel: id, thread: threadId } satisfies Request)
        if (waiting.size === 0) replies.ref()
        waiting.set(id, (answer) => {
          call.signal.removeEventListener('abort', onAbort)
          if (waiting.size === 0) replies.unref()
          if (answer.ok) resolve(answer.value)
          else reject(new RemoteHostError(answer.error))
        })
        call.signal.addEventListener('abort', onAbort, { once: true })
        const relayed: RelayedHostCall = { tenantId, name: api.name, args, executionId: call.executionId, eventDepth: call.eventDepth, scriptId: call.scriptId }
        requests.postMessage({ id, thread: threadId, call: relayed } satisfies Request)
      })
    }, { expose: api.expose })
  }
  return () => {
    requests.close()
    replies.close()
  }
}

/**
 * What the script learns of a failed host call. An error with a string `code` was raised on
 * purpose (EGRESS_DENIED, DB_QUERY_INVALID, ...) and its message is written for the script; any
 * other error is a host fault whose message may name host internals, so the script gets a
 * generic one (the host logs the original where it handles the call).
 */
export function hostErrorData(error: unknown): ErrorData {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined
  if (error instanceof Error && typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) {
    const name = error.name === 'TypeError' || error.name === 'RangeError' ? error.name : 'Error'
    return { code, name, message: error.message }
  }
  return { code: 'HOST_CALL_FAILED', name: 'Error', message: 'the host API failed' }
}

/** A relayed call's failure, with the name, message and code the host gave it (what the script sees). */
class RemoteHostError extends Error {
  readonly code: string | undefined
  constructor(data: ErrorData) {
    super(data.message)
    this.name = data.name ?? 'Error'
    this.code = data.code
  }
}
