/// <reference path="./isogate-globals.d.ts" />
/**
 * Types for isogate scripts. A script is an ES module whose default export has handlers:
 *
 *   copy this file and isogate-globals.d.ts next to your script, then:
 *   import type { ExportedHandler } from './isogate.js'
 *   export default { async fetch(request, env, ctx) { ... } } satisfies ExportedHandler
 *
 * Compile with `"lib": ["ES2022"]`, no DOM lib and no Node types: isogate-globals.d.ts declares
 * exactly the globals the isolate has (Request, Response, Headers, URL, streams, Blob, FormData,
 * crypto with crypto.subtle, URLPattern, timers, ...), so a script that uses an API isogate does
 * not have (document, caches, WebSocket, ...) fails to compile instead of failing at run time.
 * `node:` built-ins (node:buffer, node:events, node:util, node:assert, node:crypto) are not typed
 * here: add @types/node's declarations for those modules if a script imports them.
 */

declare global {
  interface Request {
    /** Named route parameters: `{ id: '42' }` for the route `/orders/:id`; a trailing wildcard's match in `'*'`. */
    readonly params: Readonly<Record<string, string>>
  }
}

/** The script's variables and secrets (strings), frozen. Secrets are redacted from the run's logs. */
export type Env = Readonly<Record<string, string>>

/** A document as `ctx.db` stores it. */
export interface StoredDocument<T extends Record<string, unknown> = Record<string, unknown>> {
  id: string
  data: T
  createdAt: string
  updatedAt: string
}

/** `{ field: value }` is equality; dotted paths reach nested fields. */
export type Where = Record<string, unknown | {
  $eq?: unknown
  $ne?: unknown
  $gt?: number | string | boolean
  $gte?: number | string | boolean
  $lt?: number | string | boolean
  $lte?: number | string | boolean
  $in?: unknown[]
  $exists?: boolean
}>

export interface Query {
  where?: Where
  /** `'total'`, `'-total'` (descending), or `{ field, direction }`; at most two keys. */
  orderBy?: string | { field: string; direction?: 'asc' | 'desc' } | Array<string | { field: string; direction?: 'asc' | 'desc' }>
  /** Default 100, at most 1000. */
  limit?: number
  /** The `cursor` of the previous page. */
  cursor?: string
}

/** A per-tenant JSON document store in Postgres. Every write raises `db.{collection}.created|updated|deleted`. */
export interface DocumentStore {
  insert<T extends Record<string, unknown>>(collection: string, doc: T): Promise<string>
  get<T extends Record<string, unknown>>(collection: string, id: string): Promise<StoredDocument<T> | null>
  query<T extends Record<string, unknown>>(collection: string, query?: Query): Promise<{ documents: Array<StoredDocument<T>>; cursor: string | null }>
  /** A JSON merge patch (RFC 7386): null removes a field, objects merge. null when there is no such document. */
  update<T extends Record<string, unknown>>(collection: string, id: string, patch: Record<string, unknown>): Promise<StoredDocument<T> | null>
  delete(collection: string, id: string): Promise<boolean>
}

/** A per-tenant cache in the gateway's memory: values are copies (structured clone); entries may go at any time. */
export interface Cache {
  get<T = unknown>(key: string): Promise<T | null>
  set(key: string, value: unknown, options?: { ttlSeconds?: number }): Promise<true>
  delete(key: string): Promise<boolean>
}

export interface Events {
  /** Into the durable outbox; event scripts whose types match receive it. */
  publish(type: string, payload?: unknown, options?: { idempotencyKey?: string }): Promise<{ id: string; duplicate: boolean }>
}

/** fetch with a verb per method; objects given as bodies are sent as JSON. Refusals reject with `code` EGRESS_DENIED and the reason. */
export interface Http {
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>
  get(url: string | URL, init?: RequestInit): Promise<Response>
  delete(url: string | URL, init?: RequestInit): Promise<Response>
  post(url: string | URL, body?: unknown, init?: RequestInit): Promise<Response>
  put(url: string | URL, body?: unknown, init?: RequestInit): Promise<Response>
  patch(url: string | URL, body?: unknown, init?: RequestInit): Promise<Response>
}

export interface Logger {
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

/** Host API failures are Errors with a stable code (EGRESS_DENIED, DB_QUERY_INVALID, CACHE_VALUE_TOO_LARGE, ...). */
export interface HostError extends Error {
  code: string
}

/** The run's context, frozen: host APIs are scoped to the script's tenant and count against its API-call limit. */
export interface Context {
  readonly db: DocumentStore
  readonly cache: Cache
  readonly events: Events
  readonly http: Http
  readonly logger: Logger
  /**
   * Work that goes on after the response: the response goes out when the handler resolves, the
   * promise keeps the run open (within its wall-clock and CPU limits), and its logs and a
   * rejection (logged at level error) are part of the run's record.
   */
  waitUntil(promise: Promise<unknown>): void
  passThroughOnException(): void
}

export interface ScheduledController {
  type: 'scheduled'
  cron: string
  timezone: string
  /** Milliseconds since the epoch of the slot this run is for. */
  scheduledTime: number
  missedSlots: number
}

export interface IsogateEvent<T = unknown> {
  id: string
  type: string
  /** Who published it: isogate itself (db.*, script.*, execution.*), an API caller, or a script. */
  source: 'system' | 'api' | 'script'
  /** The publishing script, when `source` is 'script'. */
  sourceScriptId: string | null
  payload: T
  depth: number
  idempotencyKey: string | null
  createdAt: string
  deliveryId: string
  attempt: number
}

export interface ExportedHandler<E extends Env = Env> {
  fetch?(request: Request, env: E, ctx: Context): Response | Promise<Response>
  scheduled?(controller: ScheduledController, env: E, ctx: Context): unknown
  event?(event: IsogateEvent, env: E, ctx: Context): unknown
  /** Manual, one-off and embedded runs: the answer must be JSON. */
  run?(input: unknown, env: E, ctx: Context): unknown
}
