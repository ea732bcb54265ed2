import { createServer, type Server, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import { FrameChannel, type Frame } from '../framing.js'
import { RunTable } from '../run-table.js'
import {
  HostAnswerer,
  type HostAnswererOptions,
  type HostCallHandler,
  type HostCallMessage,
  type HostCancelMessage,
  type HostReplyMessage,
  type RelayedHostCall,
} from '../host-call-channel.js'
import type { NearAnswer, NearDrop, NearSource } from '../near-copies.js'

/** Where one call came from: the channel to answer on, the number its caller gave it, and whose call it is. */
interface Route {
  channel: FrameChannel
  id: number
  tenantId: string
}

export interface HostCallListenerOptions {
  /** The socket to listen on; removed first if a stale one is there. */
  path: string
  /** Answers the calls; without it every call fails (HOST_CALL_FAILED). */
  handler: HostCallHandler | undefined
  /** Refuses a call before the handler sees it (the gateway answers only for tenants with a run on the runner). */
  admit: (call: RelayedHostCall) => Error | null
  lanes?: HostAnswererOptions
  /** The data whose answers threads may keep (near-copies.ts); without it they keep none. */
  near?: NearSource | undefined
  /** The runner's hold watcher says a synchronous step holds it, and which run it started last (framing.ts HeldMessage). */
  onHeld?: ((mark: number) => void) | undefined
}

/**
 * The gateway's end of one runner process's host calls (issue 22): its worker threads each
 * connect to this socket (runner/thread/host-call-socket.ts), so a call skips the runner's main
 * thread; calls that arrive on the runner's own socket are answered here too. One HostAnswerer
 * answers them all, so a tenant's lane (at most `maxPerTenant` calls at once) spans every thread
 * of the runner, as it did when every call came through the runner's main thread.
 *
 * Each caller numbers its own calls; the listener gives each call a number of its own for the
 * answerer and answers on the channel the call came on, under the caller's number. A channel that
 * closes (a thread died, the runner aborted) cancels its calls in flight: their handlers see the
 * abort and their answers are dropped.
 *
 * A runner without worker threads has one more caller here, its hold watcher
 * (process/runner-hold.ts): its `{ held }` frame goes to `onHeld`.
 *
 * The socket sits in the gateway's private runner folder (socket-folder.ts), as the runner's own
 * socket does; a call is admitted only for a tenant with a run on this runner (`admit`).
 *
 * A thread may keep answers (near-copies.ts): a handler's NearAnswer goes to a thread's socket
 * with terms, when the tenant's data has not changed since it was read, and from then on that
 * socket hears of every change of the tenant's data (`drop`), until the tenant's data goes or the
 * socket closes. The runner's own socket keeps nothing: its answers go without terms.
 *
 * @example
 * const listener = new HostCallListener({ path: `${socketPath}.host`, handler, admit, lanes: { maxPerTenant: 64 } })
 * runnerChannel.onFrame = (frame) => listener.receive(runnerChannel, frame)
 * listener.close()
 */
export class HostCallListener {
  readonly path: string
  readonly #answerer: HostAnswerer
  readonly #server: Server
  /** One entry per call, so not a Map (see ../run-table.ts). */
  readonly #routes = new RunTable<number, Route>()
  /** Per channel: the caller's number of each call in flight -> the listener's. */
  readonly #ids = new Map<FrameChannel, RunTable<number, number>>()
  readonly #sockets = new Set<Socket>()
  readonly #near: NearSource | undefined
  readonly #onHeld: ((mark: number) => void) | undefined
  /** Threads' channels that may keep answers, by tenant; and what each channel keeps, to forget it when it closes. */
  readonly #keepers = new Map<string, Set<FrameChannel>>()
  readonly #kept = new Map<FrameChannel, Set<string>>()
  #nextId = 1
  #closed = false

  constructor(options: HostCallListenerOptions) {
    if (typeof options.path !== 'string' || options.path.length === 0) throw new TypeError('options.path must be a socket path')
    if (typeof options.admit !== 'function') throw new TypeError('options.admit must be a function')
    this.path = options.path
    this.#near = options.near
    this.#onHeld = options.onHeld
    this.#answerer = new HostAnswerer(options.handler, (message, fallback, near) => this.#reply(message, fallback, near), options.admit, options.lanes)
    rmSync(this.path, { force: true })
    this.#server = createServer((socket) => this.#accept(socket))
    this.#server.on('error', (error) => process.emitWarning(new Error('the host-call socket of a runner failed', { cause: error })))
    this.#server.listen(this.path)
    // A runner's host-call socket must not keep the gateway alive.
    this.#server.unref()
  }

  /** Calls being answered or waiting in their tenant's lane. */
  get inFlight(): number {
    return this.#answerer.inFlight
  }

  /** A call or cancel that arrived on `channel`; its answer goes back there. */
  receive(channel: FrameChannel, frame: HostCallMessage | HostCancelMessage): void {
    if (this.#closed) return
    let ids = this.#ids.get(channel)
    if (ids === undefined) {
      ids = new RunTable()
      this.#ids.set(channel, ids)
    }
    if ('hostCancel' in frame) {
      const id = ids.get(frame.hostCancel)
      if (id !== undefined) this.#answerer.receive({ hostCancel: id })
      return
    }
    const id = this.#nextId++
    this.#routes.set(id, { channel, id: frame.hostCall, tenantId: frame.call.tenantId })
    ids.set(frame.hostCall, id)
    this.#answerer.receive({ hostCall: id, call: frame.call })
  }

  /**
   * A change of a tenant's data (NearSource.onDrop): every thread that may keep its answers hears
   * of it now, ahead of any answer sent after it. A tenant whose data went is forgotten.
   */
  dropNear(drop: NearDrop): void {
    if (this.#closed) return
    const [tenantId, key] = drop
    const channels = this.#keepers.get(tenantId)
    if (channels === undefined) return
    for (const channel of channels) channel.send({ nearDrop: drop })
    if (key !== null) return
    this.#keepers.delete(tenantId)
    for (const channel of channels) this.#kept.get(channel)?.delete(tenantId)
  }

  /** The channel closed: its calls in flight are cancelled, and their answers dropped. */
  drop(channel: FrameChannel): void {
    const kept = this.#kept.get(channel)
    this.#kept.delete(channel)
    if (kept !== undefined) {
      for (const tenantId of kept) {
        const channels = this.#keepers.get(tenantId)
        channels?.delete(channel)
        if (channels?.size === 0) this.#keepers.delete(tenantId)
      }
    }
    const ids = this.#ids.get(channel)
    this.#ids.delete(channel)
    if (ids === undefined) return
    for (const id of ids.values()) {
      this.#routes.delete(id)
      this.#answerer.receive({ hostCancel: id })
    }
  }

  /** Stops listening, closes the threads' sockets and aborts every call in flight. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#server.close()
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    this.#answerer.close()
    this.#routes.clear()
    this.#ids.clear()
    this.#keepers.clear()
    this.#kept.clear()
    rmSync(this.path, { force: true })
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy()
      return
    }
    this.#sockets.add(socket)
    const channel: FrameChannel = new FrameChannel(
      socket,
      (value) => {
        const frame = value as Frame
        if ('hostCall' in frame || 'hostCancel' in frame) this.receive(channel, frame)
        else if ('nearTouch' in frame) this.#touch(channel, frame.nearTouch)
        else if ('held' in frame && Number.isInteger(frame.held)) this.#onHeld?.(frame.held)
        else socket.destroy() // a thread sends nothing else: one that does is as good as broken
      },
    )
    // A thread's socket: it may keep answers (the runner's own channel, received from runner-client.ts, does not).
    this.#kept.set(channel, new Set())
    socket.on('error', () => socket.destroy())
    socket.once('close', () => {
      this.#sockets.delete(socket)
      this.drop(channel)
    })
  }

  /** Keys a thread answered from its copies: used, for the tenants whose answers it keeps. */
  #touch(channel: FrameChannel, touched: unknown): void {
    const kept = this.#kept.get(channel)
    if (kept === undefined || this.#near === undefined || !Array.isArray(touched)) return
    for (const pair of touched) {
      if (!Array.isArray(pair)) continue
      const [tenantId, key] = pair as unknown[]
      if (typeof tenantId === 'string' && typeof key === 'string' && kept.has(tenantId)) this.#near.touch(tenantId, key)
    }
  }

  #reply(message: HostReplyMessage, fallback: HostReplyMessage, near: NearAnswer | undefined): void {
    const route = this.#routes.get(message.hostReply)
    if (route === undefined) return
    this.#routes.delete(message.hostReply)
    this.#ids.get(route.channel)?.delete(route.id)
    const answer = near === undefined ? message.answer : this.#nearAnswer(route, message.answer, near)
    route.channel.send({ hostReply: route.id, answer }, { hostReply: route.id, answer: fallback.answer })
  }

  /**
   * A kept answer's terms, when the caller is a thread and the tenant's data is as it was read:
   * a change between the read and now was told only to the threads that kept its answers then.
   * The channel hears of the tenant's changes from now on.
   */
  #nearAnswer(route: Route, answer: HostReplyMessage['answer'], near: NearAnswer): HostReplyMessage['answer'] {
    const kept = this.#kept.get(route.channel)
    const source = this.#near
    if (!answer.ok || kept === undefined || source === undefined || source.versionOf(route.tenantId) !== near.version) return answer
    kept.add(route.tenantId)
    let channels = this.#keepers.get(route.tenantId)
    if (channels === undefined) {
      channels = new Set()
      this.#keepers.set(route.tenantId, channels)
    }
    channels.add(route.channel)
    return { ok: true, value: answer.value, near: { clock: source.clock(), ttlMs: near.ttlMs, bytes: near.bytes } }
  }
}
