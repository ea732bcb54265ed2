/**
 * One host-call channel: a script's `ctx.db.get(...)` made in a worker thread is answered in the
 * gateway, two hops away (thread -> runner process over a BroadcastChannel, see host-relay.ts;
 * runner process -> gateway over the framed socket, see framing.ts). Both hops speak the same three
 * messages and keep the same books, written once here: the caller numbers its calls, sends a
 * cancel when the run ends first and settles on the reply; the answerer runs the handler with an
 * AbortSignal that the cancel aborts, and always replies (a value that cannot be copied still
 * answers, as a failure).
 */
import type { ErrorData } from './errors.js'
import type { HostCall, HostPeek, HostRegistry } from './thread/host-bridge.js'
import { RunTable } from './run-table.js'
import { NearAnswer, type NearTerms } from './near-copies.js'

/** A host API answered outside the worker: its name ('db.get') and whether scripts see it on ctx. */
export interface RemoteHostApi {
  name: string
  expose: boolean
  /** Counted against the run's API-call limit; default true (false: the platform's own plumbing). */
  counted?: boolean | undefined
  /**
   * Its answers may be kept by the calling thread and answered again from there, keyed by the
   * call's first argument (near-copies.ts): the handler answers a NearAnswer. Default false.
   */
  near?: boolean | undefined
}

/** One relayed call: the tenant is the one the worker's bridge bound, never the script's say. */
export interface RelayedHostCall {
  tenantId: string
  name: string
  args: unknown[]
  /** The run making the call, when the caller named it (RunTask.trace). */
  executionId?: string | undefined
  eventDepth?: number | null | undefined
  /** The script making the call (the event source of a script-published event). */
  scriptId?: string | undefined
}

/** Answers relayed calls; rejects (or throws) with an Error whose name, message and code reach the script. */
export type HostCallHandler = (call: RelayedHostCall, cancel: CallCancel) => Promise<unknown>

/** How a call's handler learns the call was cancelled (its run ended, its socket closed): `signal`. */
export interface CallCancel {
  readonly signal: AbortSignal
}

/**
 * A call's cancellation at the answerer, its AbortSignal made on first read: an AbortController
 * costs about 5 us to make (Node 20), a sixth of the gateway's time on a `ctx.cache.get`, and
 * only some calls (an outbound fetch) ever read theirs. `onAbort` runs first when it aborts,
 * then the signal's listeners.
 */
class LazyCancel implements CallCancel {
  #controller: AbortController | null = null
  #aborted = false
  onAbort: (() => void) | null = null

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort()
    }
    return this.#controller.signal
  }

  abort(): void {
    if (this.#aborted) return
    this.#aborted = true
    this.onAbort?.()
    this.#controller?.abort()
  }
}

/**
 * How a call learns its run ended, so the caller sends a cancel: `onCancel(fn)` runs `fn` once
 * then, and answers how to take it back (a HostCall is one: runner/thread/host-bridge.ts).
 */
export interface Cancellation {
  onCancel(fn: () => void): () => void
}

/** A Cancellation of an AbortSignal's. */
export function signalCancellation(signal: AbortSignal): Cancellation {
  return {
    onCancel(fn) {
      signal.addEventListener('abort', fn, { once: true })
      return () => signal.removeEventListener('abort', fn)
    },
  }
}

/** The answer to a relayed call, as plain data; `near` when the caller may keep it (near-copies.ts). */
export type HostAnswer = { ok: true; value: unknown; near?: NearTerms } | { ok: false; error: ErrorData }

/** A call, from the caller to the answerer. */
export interface HostCallMessage {
  hostCall: number
  call: RelayedHostCall
}

/** The run that made call `hostCancel` ended: the answerer may stop working on it. */
export interface HostCancelMessage {
  hostCancel: number
}

/** The answer to call `hostReply`. */
export interface HostReplyMessage {
  hostReply: number
  answer: HostAnswer
}

export type HostCallerMessage = HostCallMessage | HostCancelMessage

const UNCOPYABLE: ErrorData = { code: 'HOST_CALL_FAILED', name: 'Error', message: 'the host API answered a value that cannot be copied' }

/**
 * The calling end. `send` carries a call or a cancel to the answerer; `reply()` is fed the answers.
 *
 * @example
 * const caller = new HostCaller((message) => channel.send(message))
 * const value = await caller.call({ tenantId, name: 'cache.get', args: ['k'] }, signalCancellation(signal))
 */
export class HostCaller {
  readonly #send: (message: HostCallerMessage) => void
  /** Calls out, by id: one entry per call, so not a Map (see run-table.ts). */
  readonly #waiting = new RunTable<number, (answer: HostAnswer) => void>()
  #nextId = 1

  constructor(send: (message: HostCallerMessage) => void) {
    this.#send = send
  }

  /** Calls waiting for their answer. */
  get waiting(): number {
    return this.#waiting.size
  }

  /** `keep` is given an answer that came with terms to keep it by (near-copies.ts), before the call resolves. */
  call(call: RelayedHostCall, cancellation: Cancellation, keep?: (value: unknown, terms: NearTerms) => void): Promise<unknown> {
    const id = this.#nextId++
    return new Promise<unknown>((resolve, reject) => {
      const forget = cancellation.onCancel(() => this.#send({ hostCancel: id }))
      this.#waiting.set(id, (answer) => {
        forget()
        if (!answer.ok) {
          reject(new RemoteHostError(answer.error))
          return
        }
        if (answer.near !== undefined) keep?.(answer.value, answer.near)
        resolve(answer.value)
      })
      this.#send({ hostCall: id, call })
    })
  }

  /** Settles the call the reply answers; a reply for a call nobody waits for is dropped. */
  reply(message: HostReplyMessage): void {
    const settle = this.#waiting.get(message.hostReply)
    if (settle === undefined) return
    this.#waiting.delete(message.hostReply)
    settle(message.answer)
  }

  /** The answerer is gone: every waiting call fails with `error`. */
  failAll(error: ErrorData): void {
    const waiting = this.#waiting.values()
    this.#waiting.clear()
    for (const settle of waiting) settle({ ok: false, error })
  }
}

export interface HostAnswererOptions {
  /**
   * Calls of one tenant being answered at once; the tenant's further calls wait in its own lane
   * (first in, first out) and start as its earlier ones finish. Other tenants' calls never wait
   * behind them: a tenant flooding `ctx.db.query` cannot fill the database pool's queue ahead of a
   * co-located tenant's one call. The platform's own calls ('run.respond', 'run.chunk', 'run.end')
   * are never held. Default: no bound.
   */
  maxPerTenant?: number
}

/** One tenant's calls at the answerer: how many are being answered, and those waiting their turn. */
interface Lane {
  running: number
  waiting: Map<number, () => void>
}

/**
 * The answering end. `receive()` is fed calls and cancels; `reply` carries each answer back.
 * `admit` may refuse a call before the handler sees it (the gateway answers only for tenants with
 * a run in flight on the runner that asks).
 *
 * @example
 * const answerer = new HostAnswerer(handler, (message) => channel.send(message), undefined, { maxPerTenant: 256 })
 * channel.onMessage = (message) => answerer.receive(message)
 */
export class HostAnswerer {
  readonly #handler: HostCallHandler | undefined
  readonly #reply: (message: HostReplyMessage, fallback: HostReplyMessage, near?: NearAnswer) => void
  readonly #admit: (call: RelayedHostCall) => Error | null
  /** Calls being answered, by id: one entry per call, so not a Map (see run-table.ts). */
  readonly #inFlight = new RunTable<number, LazyCancel>()
  readonly #maxPerTenant: number
  readonly #lanes = new Map<string, Lane>()
  #closed = false

  /**
   * `reply` carries an answer back, or `fallback` in its place when the answer does not copy: it
   * may throw for such an answer (postMessage does) or send the fallback itself (a FrameChannel).
   * A handler's NearAnswer reaches `reply` as its value, and as `near` for the reply to offer
   * terms with (the gateway's host-call listener does; elsewhere it is a plain answer).
   */
  constructor(handler: HostCallHandler | undefined, reply: (message: HostReplyMessage, fallback: HostReplyMessage, near?: NearAnswer) => void, admit: (call: RelayedHostCall) => Error | null = () => null, options: HostAnswererOptions = {}) {
    const maxPerTenant = options.maxPerTenant ?? Number.POSITIVE_INFINITY
    if (!(maxPerTenant >= 1) || (maxPerTenant !== Number.POSITIVE_INFINITY && !Number.isInteger(maxPerTenant))) {
      throw new RangeError('options.maxPerTenant must be a positive integer')
    }
    this.#handler = handler
    this.#reply = reply
    this.#admit = admit
    this.#maxPerTenant = maxPerTenant
  }

  /** Calls being answered or waiting in their tenant's lane. */
  get inFlight(): number {
    return this.#inFlight.size
  }

  /** Calls of `tenantId` waiting for their turn in its lane. */
  waiting(tenantId: string): number {
    return this.#lanes.get(tenantId)?.waiting.size ?? 0
  }

  receive(message: HostCallerMessage): void {
    if (this.#closed) return
    if ('hostCancel' in message) {
      this.#inFlight.get(message.hostCancel)?.abort()
      return
    }
    const { hostCall: id, call } = message
    const refused = this.#handler === undefined ? hostCallFailed(`${call.name} is not available`) : this.#admit(call)
    if (refused !== null) {
      this.#settle(id, Promise.reject(refused))
      return
    }
    const cancel = new LazyCancel()
    this.#inFlight.set(id, cancel)
    if (call.name.startsWith('run.') || this.#maxPerTenant === Number.POSITIVE_INFINITY) {
      this.#settle(id, this.#run(call, cancel))
      return
    }
    let lane = this.#lanes.get(call.tenantId)
    if (lane === undefined) {
      lane = { running: 0, waiting: new Map() }
      this.#lanes.set(call.tenantId, lane)
    }
    const start = (): void => {
      ;(lane as Lane).running++
      this.#settle(id, this.#run(call, cancel), () => this.#next(call.tenantId))
    }
    if (lane.running < this.#maxPerTenant) {
      start()
      return
    }
    lane.waiting.set(id, start)
    // A call whose run ended while it waited is answered at once, and gives up its turn.
    cancel.onAbort = () => {
      if (!(lane as Lane).waiting.delete(id)) return
      this.#answer(id, { ok: false, error: { code: 'HOST_CALL_FAILED', name: 'Error', message: 'the run ended before the call was made' } })
      this.#dropIfIdle(call.tenantId)
    }
  }

  /** Aborts every call in flight; answers that arrive later are dropped. */
  close(): void {
    this.#closed = true
    for (const cancel of this.#inFlight.values()) cancel.abort()
    this.#inFlight.clear()
    this.#lanes.clear()
  }

  #run(call: RelayedHostCall, cancel: CallCancel): Promise<unknown> {
    try {
      return Promise.resolve((this.#handler as HostCallHandler)(call, cancel))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #settle(id: number, pending: Promise<unknown>, done?: () => void): void {
    pending.then(
      (value) => {
        done?.()
        if (value instanceof NearAnswer) this.#answer(id, { ok: true, value: value.value }, value)
        else this.#answer(id, { ok: true, value })
      },
      (error: unknown) => {
        done?.()
        this.#answer(id, { ok: false, error: hostErrorData(error) })
      },
    )
  }

  /** One of the tenant's calls finished: the next waiting in its lane starts. */
  #next(tenantId: string): void {
    const lane = this.#lanes.get(tenantId)
    if (lane === undefined) return
    lane.running--
    const first = lane.waiting.entries().next()
    if (!first.done) {
      const [id, start] = first.value
      lane.waiting.delete(id)
      start()
    } else this.#dropIfIdle(tenantId)
  }

  #dropIfIdle(tenantId: string): void {
    const lane = this.#lanes.get(tenantId)
    if (lane !== undefined && lane.running === 0 && lane.waiting.size === 0) this.#lanes.delete(tenantId)
  }

  #answer(id: number, answer: HostAnswer, near?: NearAnswer): void {
    this.#inFlight.delete(id)
    if (this.#closed) return
    // A value that does not copy (a function, a symbol) must still answer the call, or the script waits forever.
    const fallback: HostReplyMessage = { hostReply: id, answer: { ok: false, error: UNCOPYABLE } }
    try {
      this.#reply({ hostReply: id, answer }, fallback, near)
    } catch {
      this.#reply(fallback, fallback)
    }
  }
}

function hostCallFailed(message: string): Error {
  return Object.assign(new Error(message), { code: 'HOST_CALL_FAILED' })
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

/**
 * The worker side of either transport (host-relay.ts's channel, thread/host-call-socket.ts's
 * socket): registers every relayed API in `registry`, each call sent by `send` for the run's
 * tenant, with the run's trace.
 */
export function registerRelayedApis(registry: HostRegistry, apis: readonly RemoteHostApi[], send: (call: RelayedHostCall, run: HostCall, api: RemoteHostApi) => Promise<unknown>, peekOf?: (api: RemoteHostApi) => HostPeek | undefined): void {
  for (const api of apis) {
    registry.register(api.name, (tenantId: string, args: unknown[], call: HostCall) => {
      return send({ tenantId, name: api.name, args, executionId: call.executionId, eventDepth: call.eventDepth, scriptId: call.scriptId }, call, api)
    }, { expose: api.expose, counted: api.counted !== false, peek: peekOf?.(api) })
  }
}
