import type { Database } from '../db/database.js'
import type { ScriptNameRepository } from '../db/script-name.repository.js'
import { AD_HOC_SCRIPT_ID } from '../domain/ad-hoc.js'
import type { RunEvent, RunFeed } from './run-feed.js'
import type { SourceMaps } from './source-map.js'

/** Where a tail session writes: a WebSocket, as far as the tail needs to know it. */
export interface TailSink {
  send(text: string): void
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number
}

/** Filters a session applies on the server, so only what the client asked for crosses. */
export interface TailFilter {
  scriptId?: string | undefined
  outcome?: 'ok' | 'error' | undefined
  method?: string | undefined
  /** Case-insensitive text in a log line, the error, or the path. */
  search?: string | undefined
}

export interface LiveTailOptions {
  feed: RunFeed
  db: Database
  names: ScriptNameRepository
  sourceMaps?: SourceMaps | undefined
  /** Bytes a client may have unsent before its events are dropped. */
  bufferBytes: number
  /** How often a session with drops to report checks whether its client caught up. */
  reportIntervalMs?: number
}

/** What a session is told when events were dropped for it: `{"dropped": N}` (with `type`). */
export interface DroppedNotice {
  type: 'dropped'
  dropped: number
}

/**
 * The live tail: every finished run of a tenant (sampled into the records or not), filtered on
 * the server, written to each client as JSON. A slow client never holds back a run: an event
 * that finds its client with more than `bufferBytes` unsent is dropped and counted, and the
 * client is told `{"type":"dropped","dropped":N}` as soon as it has room again.
 *
 * @example
 * const tail = new LiveTail({ feed, db, names, bufferBytes: 1 << 20 })
 * const close = await tail.open(tenantId, { outcome: 'error' }, socket)
 */
export class LiveTail {
  readonly #options: LiveTailOptions
  readonly #reportIntervalMs: number

  constructor(options: LiveTailOptions) {
    if (!Number.isInteger(options.bufferBytes) || options.bufferBytes < 1) throw new RangeError('options.bufferBytes must be a positive integer')
    this.#options = options
    this.#reportIntervalMs = options.reportIntervalMs ?? 100
  }

  /** Starts a session; answers the function that ends it (call it when the socket closes). */
  async open(tenantId: string, filter: TailFilter, sink: TailSink): Promise<() => void> {
    const session = new TailSession(this.#options, tenantId, filter, sink, await this.#names(tenantId))
    const unsubscribe = this.#options.feed.subscribe(tenantId, (event) => session.offer(event))
    const timer = setInterval(() => session.report(), this.#reportIntervalMs)
    timer.unref()
    return () => {
      unsubscribe()
      clearInterval(timer)
    }
  }

  #names(tenantId: string): Promise<Map<string, string>> {
    return this.#options.db.tenant(tenantId, (tx) => this.#options.names.names(tx, tenantId))
  }
}

/** Events a session may have waiting for a source map or a name before it drops more. */
const MAX_PENDING = 256

class TailSession {
  readonly #options: LiveTailOptions
  readonly #tenantId: string
  readonly #filter: TailFilter
  readonly #sink: TailSink
  #names: Map<string, string>
  #namesLoadedAt = Date.now()
  #dropped = 0
  /** Events waiting behind an asynchronous step (a source map, a name), so order is kept. */
  #chain: Promise<void> = Promise.resolve()
  #pending = 0

  constructor(options: LiveTailOptions, tenantId: string, filter: TailFilter, sink: TailSink, names: Map<string, string>) {
    this.#options = options
    this.#tenantId = tenantId
    this.#filter = filter
    this.#sink = sink
    this.#names = names
  }

  offer(event: RunEvent): void {
    if (!this.#matches(event)) return
    const needsWork = (event.error !== null && this.#options.sourceMaps !== undefined && (event.error.line !== undefined || event.error.stack !== undefined))
      || (!this.#names.has(event.scriptId) && event.scriptId !== AD_HOC_SCRIPT_ID)
    if (!needsWork && this.#pending === 0) {
      this.#deliver(event, event.error)
      return
    }
    if (this.#pending >= MAX_PENDING) {
      this.#dropped++
      return
    }
    this.#pending++
    this.#chain = this.#chain
      .then(async () => {
        if (!this.#names.has(event.scriptId) && event.scriptId !== AD_HOC_SCRIPT_ID && Date.now() - this.#namesLoadedAt > 200) {
          this.#namesLoadedAt = Date.now()
          this.#names = await this.#options.db.tenant(this.#tenantId, (tx) => this.#options.names.names(tx, this.#tenantId))
        }
        const error = event.error === null || this.#options.sourceMaps === undefined ? event.error : await this.#options.sourceMaps.mapError(this.#tenantId, event.scriptId, event.version, event.error)
        this.#deliver(event, error)
      })
      .catch(() => this.#deliver(event, event.error))
      .finally(() => {
        this.#pending--
      })
  }

  /** Tells the client how many events it missed, once it has room again. */
  report(): void {
    if (this.#dropped === 0 || this.#sink.bufferedAmount > this.#options.bufferBytes) return
    const notice: DroppedNotice = { type: 'dropped', dropped: this.#dropped }
    this.#dropped = 0
    this.#sink.send(JSON.stringify(notice))
  }

  #deliver(event: RunEvent, error: unknown): void {
    if (this.#sink.bufferedAmount > this.#options.bufferBytes) {
      this.#dropped++
      return
    }
    if (this.#dropped > 0) this.report()
    this.#sink.send(
      JSON.stringify({
        type: 'run',
        id: event.id,
        script: event.scriptId === AD_HOC_SCRIPT_ID ? '(ad-hoc)' : (this.#names.get(event.scriptId) ?? null),
        scriptId: event.scriptId,
        version: event.version,
        trigger: event.trigger,
        method: event.method,
        path: event.path,
        status: event.status,
        outcome: event.outcome,
        code: event.code,
        error,
        durationMs: event.durationMs,
        cpuMs: event.cpuMs,
        logs: event.logs,
        at: new Date(event.at).toISOString(),
      }),
    )
  }

  #matches(event: RunEvent): boolean {
    const filter = this.#filter
    if (filter.scriptId !== undefined && event.scriptId !== filter.scriptId) return false
    if (filter.outcome !== undefined && event.outcome !== filter.outcome) return false
    if (filter.method !== undefined && event.method !== filter.method) return false
    if (filter.search !== undefined) {
      const needle = filter.search.toLowerCase()
      const haystacks = [event.path ?? '', event.error?.message ?? '', event.code ?? '', ...event.logs.map((entry) => entry.message)]
      if (!haystacks.some((text) => text.toLowerCase().includes(needle))) return false
    }
    return true
  }
}
