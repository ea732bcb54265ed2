/**
 * A worker thread's own connection to the gateway for host calls (issue 22): a script's
 * `ctx.cache.get` goes thread -> gateway over a Unix socket and back, with no stop on the runner
 * process's main thread. The relay through that thread (host-relay.ts) cost two thread wake-ups
 * and a decode and encode there per call, about a third of a sequential call's round trip
 * (measured per hop: 58 + 49 us of wake-ups and ~45 us of relay work out of ~530 us on a loaded
 * machine). Calls and answers are the frames of the runner socket (framing.ts,
 * host-call-channel.ts); the gateway answers them only for tenants with a run on this runner
 * process (runner-client.ts), as before.
 *
 * A thread that dies takes its socket with it: the gateway cancels the calls it had out. A
 * socket that closes fails the calls waiting on it (the scripts see HOST_CALL_FAILED), and the
 * next call connects again.
 *
 * The answers of APIs marked `near` (ctx.cache.get) may be kept here and answered again without
 * the trip (near-cache.ts); the gateway tells this socket of every change to what it keeps.
 */
import type { Socket } from 'node:net'
import { FrameChannel } from '../framing.js'
import { HostCaller, registerRelayedApis, type Cancellation, type HostReplyMessage, type RelayedHostCall, type RemoteHostApi } from '../host-call-channel.js'
import type { ErrorData } from '../errors.js'
import type { NearDropMessage, NearTerms } from '../near-copies.js'
import type { HostCall, HostPeek, HostRegistry } from './host-bridge.js'
import { NearCache } from './near-cache.js'

/** Where a worker thread sends its host calls, and which calls those are (worker.ts settings). */
export interface HostSocketSettings {
  /** The gateway's host-call socket of this runner process (runner/supervisor/host-call-listener.ts). */
  path: string
  apis: RemoteHostApi[]
}

/** How often a thread tells the gateway which keys it answered from copies (NearTouchMessage). */
const NEAR_TOUCH_MS = 500

const CLOSED: ErrorData = { code: 'HOST_CALL_FAILED', name: 'Error', message: 'the connection to the gateway closed while the call was out' }

/**
 * One thread's connection, made at once and again after it closed.
 *
 * @example
 * const socket = new HostCallSocket('/tmp/isogate-runners-x/0.sock.host')
 * const value = await socket.call({ tenantId, name: 'cache.get', args: ['k'] }, run)
 */
export class HostCallSocket {
  readonly #path: string
  /** Answers kept from this socket's gateway (near-copies.ts). */
  readonly near = new NearCache()
  #connection: { socket: Socket; caller: HostCaller; channel: FrameChannel } | null = null
  #closed = false
  readonly #touches: NodeJS.Timeout

  constructor(path: string) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a socket path')
    this.#path = path
    this.#connection = this.#connect()
    this.#touches = setInterval(() => this.#reportTouches(), NEAR_TOUCH_MS)
    this.#touches.unref()
  }

  call(call: RelayedHostCall, cancellation: Cancellation, keep?: (value: unknown, terms: NearTerms) => void): Promise<unknown> {
    if (this.#closed) return Promise.reject(Object.assign(new Error('the worker thread is closing'), { code: 'HOST_CALL_FAILED' }))
    this.#connection ??= this.#connect()
    const { socket, caller } = this.#connection
    // Only while a call waits for its answer does the socket hold the thread's event loop.
    if (caller.waiting === 0) socket.ref()
    return caller.call(call, cancellation, keep)
  }

  /**
   * A call of an API whose answers may be kept (`near`) that no kept answer could answer: the
   * platform asks such calls synchronously first (HostPeek, registerSocketHostApis), which gives a
   * kept answer while the script's step runs. The gateway's answer may be kept for later reads.
   */
  read(call: RelayedHostCall, run: HostCall): Promise<unknown> {
    const key = call.args[0]
    if (typeof key !== 'string' || run.near === undefined || run.near < 0) return this.call(call, run)
    return this.near.read(call.tenantId, key, (keep) => this.call(call, run, keep))
  }

  /** Keys answered from copies go to the gateway as used; none are lost but with the connection. */
  #reportTouches(): void {
    const connection = this.#connection
    if (connection === null) return
    const touched = this.near.touched()
    if (touched.length > 0) connection.channel.send({ nearTouch: touched })
  }

  close(): void {
    clearInterval(this.#touches)
    this.#closed = true
    this.#connection?.socket.destroy()
    this.#connection = null
  }

  #connect(): { socket: Socket; caller: HostCaller; channel: FrameChannel } {
    const channel: FrameChannel = FrameChannel.connect(this.#path, (frame) => {
      if ('nearDrop' in (frame as object)) {
        this.near.drop((frame as NearDropMessage).nearDrop)
        return
      }
      caller.reply(frame as HostReplyMessage)
      if (caller.waiting === 0) socket.unref()
    })
    const socket = channel.socket
    socket.unref()
    const caller = new HostCaller((message) => channel.send(message))
    const connection = { socket, caller, channel }
    socket.on('error', () => socket.destroy())
    socket.once('close', () => {
      if (this.#connection === connection) this.#connection = null
      // The gateway tells the next connection nothing of what this one kept.
      this.near.clear()
      caller.failAll(CLOSED)
    })
    return connection
  }
}

/**
 * Registers every relayed API in `registry`, each sending its calls over this thread's own
 * socket to the gateway. Answers the socket (`close()` when the thread ends; `near`, its kept answers).
 */
export function registerSocketHostApis(registry: HostRegistry, settings: HostSocketSettings): HostCallSocket {
  const socket = new HostCallSocket(settings.path)
  // A kept answer is given while the script's step runs (HostPeek): no second entry into the isolate.
  const peek: HostPeek = (tenantId, [key], run) => (typeof key === 'string' ? socket.near.get(tenantId, key, run.near) : undefined)
  registerRelayedApis(registry, settings.apis, (call, run, api) => (api.near === true ? socket.read(call, run) : socket.call(call, run)), (api) => (api.near === true ? peek : undefined))
  return socket
}
