/**
 * The thread hop of the host-call channel (host-call-channel.ts): a script's `ctx.db.get(...)`
 * runs in a worker thread of a runner process, but the database, the tenant caches and the
 * outbound HTTP client live in the gateway process. A relayed call travels worker thread -> the
 * thread that owns the IsolatePool (over a BroadcastChannel, here) -> the gateway (over the
 * runner's framed socket, see runner-process.ts) and back, as plain data all the way.
 *
 * BroadcastChannel rather than a MessagePort handed to each worker: piscina replaces a crashed
 * thread on its own, and a replacement finds the channel by name with no handshake. Requests go
 * on one channel the pool side listens to; each thread listens for its answers on a channel of
 * its own (`{name}:{threadId}`), so an answer is delivered to one thread only.
 *
 * A runner process whose gateway answers host calls skips this relay: its worker threads reach
 * the gateway over sockets of their own (thread/host-call-socket.ts). The relay serves pools that
 * answer host calls in their own process.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import {
  HostAnswerer,
  HostCaller,
  type HostCallerMessage,
  type HostCallHandler,
  type HostReplyMessage,
  type RemoteHostApi,
  registerRelayedApis,
} from './host-call-channel.js'
import type { HostRegistry } from './thread/host-bridge.js'

export type { HostAnswer, HostCallHandler, RelayedHostCall, RemoteHostApi } from './host-call-channel.js'
export { hostErrorData } from './host-call-channel.js'

/** A worker thread's message on the request channel: a call or a cancel, and the thread to answer. */
type Request = HostCallerMessage & { thread: number }

/** What a worker thread needs to reach the relay: the channel's name and the APIs to register. */
export interface HostRelaySettings {
  channel: string
  apis: RemoteHostApi[]
}

/**
 * The pool side: listens for calls from the pool's worker threads and answers them with `handler`,
 * one HostAnswerer per thread (each thread numbers its own calls).
 *
 * @example
 * const relay = new HostRelay(async ({ tenantId, name, args }) => services.call(tenantId, name, args), apis)
 * const pool = new IsolatePool({ ... }) // gets relay.settings in its workers' settings
 */
export class HostRelay {
  readonly settings: HostRelaySettings
  readonly #handler: HostCallHandler
  readonly #requests: BroadcastChannel
  readonly #threads = new Map<number, { answerer: HostAnswerer; replies: BroadcastChannel }>()
  #closed = false

  constructor(handler: HostCallHandler, apis: readonly RemoteHostApi[]) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function')
    this.#handler = handler
    this.settings = { channel: `isogate-host-${randomBytes(8).toString('hex')}`, apis: apis.map(({ name, expose, counted }) => (counted === false ? { name, expose, counted } : { name, expose })) }
    this.#requests = new BroadcastChannel(this.settings.channel)
    this.#requests.onmessage = (event) => this.#receive((event as { data: Request }).data)
    // Worker threads keep their own process alive; this channel must not keep a pool's owner alive.
    this.#requests.unref()
  }

  get inFlight(): number {
    let calls = 0
    for (const { answerer } of this.#threads.values()) calls += answerer.inFlight
    return calls
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#requests.close()
    for (const { answerer, replies } of this.#threads.values()) {
      answerer.close()
      replies.close()
    }
    this.#threads.clear()
  }

  #receive(request: Request): void {
    if (this.#closed) return
    let thread = this.#threads.get(request.thread)
    if (thread === undefined) {
      const replies = new BroadcastChannel(`${this.settings.channel}:${request.thread}`)
      replies.unref()
      thread = { replies, answerer: new HostAnswerer(this.#handler, (message) => replies.postMessage(message)) }
      this.#threads.set(request.thread, thread)
    }
    thread.answerer.receive(request)
  }
}

/**
 * The worker side: registers every relayed API in `registry`, each forwarding its calls to the
 * pool's HostRelay. The returned function closes the channels (the worker's end).
 */
export function registerRemoteHostApis(registry: HostRegistry, settings: HostRelaySettings): () => void {
  const requests = new BroadcastChannel(settings.channel)
  const replies = new BroadcastChannel(`${settings.channel}:${threadId}`)
  const caller = new HostCaller((message) => requests.postMessage({ ...message, thread: threadId } satisfies Request))
  replies.onmessage = (event) => {
    caller.reply((event as { data: HostReplyMessage }).data)
    // Only while a call waits for its answer does the channel hold the thread's event loop.
    if (caller.waiting === 0) replies.unref()
  }
  requests.unref()
  replies.unref()

  registerRelayedApis(registry, settings.apis, (call, signal) => {
    if (caller.waiting === 0) replies.ref()
    return caller.call(call, signal)
  })
  return () => {
    requests.close()
    replies.close()
  }
}
