import { NearAnswer, type CallCancel, type HostCallHandler, type NearSource, type RelayedHostCall, type RemoteHostApi } from '../../runner/index.js'
import { AppError } from '../errors.js'
import type { EventService } from '../triggers/event.service.js'
import type { DocumentStore } from '../services/document-store.js'
import type { TenantCache } from './tenant-cache.js'

/** What a host API gets: the tenant bound by the runner, the copied arguments, the run's trace. */
type HostApi = (call: RelayedHostCall, cancel: CallCancel) => Promise<unknown>

export interface HostApisOptions {
  cache: TenantCache
  events: EventService
  documents: DocumentStore
  /** Host faults (errors without a code): logged here, the script sees HOST_CALL_FAILED. */
  onFault?: (error: unknown, call: RelayedHostCall) => void
}

/**
 * The host APIs scripts reach through `ctx` (and `fetch`), answered in the gateway process:
 * runner processes have no database, and the caches and the outbound client are shared by a
 * tenant's runs on every runner. Each call is scoped by the tenant the runner's bridge bound to
 * the isolate, never by an argument; each was counted against the run's API-call limit before
 * it got here.
 *
 * @example
 * const apis = new HostApis({ cache, events })
 * new RunnerSupervisor({ pool: { remoteHostApis: apis.remote }, hostCalls: apis.handler })
 */
export class HostApis {
  readonly #apis = new Map<string, { fn: HostApi; expose: boolean; counted: boolean; near: boolean }>()
  readonly #onFault: (error: unknown, call: RelayedHostCall) => void
  /**
   * `RunnerSupervisorOptions.near`: `ctx.cache.get` answers may be kept by the runners' threads
   * and answered again there, coherent with every set and delete (runner/near-copies.ts).
   */
  readonly near: NearSource

  constructor(options: HostApisOptions) {
    this.#onFault = options.onFault ?? (() => {})
    const { cache, events, documents } = options
    this.near = cache
    const causeOf = ({ executionId, eventDepth }: RelayedHostCall) => (executionId === undefined ? undefined : { depth: eventDepth ?? null, executionId })
    this.#add('db.insert', async (call) => documents.insert(call.tenantId, call.args[0] as string, call.args[1], causeOf(call)))
    this.#add('db.get', async ({ tenantId, args }) => documents.get(tenantId, args[0] as string, args[1] as string))
    this.#add('db.query', async ({ tenantId, args }) => documents.query(tenantId, args[0] as string, args[1] ?? {}))
    this.#add('db.update', async (call) => documents.update(call.tenantId, call.args[0] as string, call.args[1] as string, call.args[2], causeOf(call)))
    this.#add('db.delete', async (call) => documents.delete(call.tenantId, call.args[0] as string, call.args[1] as string, causeOf(call)))
    this.#add('cache.get', async ({ tenantId, args }) => {
      const read = cache.near(tenantId, args[0])
      return new NearAnswer(read.value, read.version, read.ttlMs, read.bytes)
    }, { near: true })
    this.#add('cache.set', async ({ tenantId, args }) => {
      cache.set(tenantId, args[0], args[1], cacheSetOptions(args[2]))
      return true
    })
    this.#add('cache.delete', async ({ tenantId, args }) => cache.delete(tenantId, args[0]))
    this.#add('events.publish', async (call) => {
      const [type, payload, options] = call.args
      if (typeof type !== 'string') throw new AppError('VALIDATION_FAILED', 'events.publish(type, payload): type must be a string such as "order.created"')
      const idempotencyKey = isRecord(options) && typeof options.idempotencyKey === 'string' ? options.idempotencyKey : undefined
      const cause = causeOf(call)
      const event = await events.publishFor(call.tenantId, { type, payload, idempotencyKey, cause: cause && { ...cause, scriptId: call.scriptId } }, 'script')
      return { id: event.id, duplicate: event.duplicate }
    })
  }

  /** Adds a host API answered here; `expose: false` keeps it off ctx (the platform calls it, as fetch does). */
  add(name: string, fn: HostApi, expose = true, counted = true): this {
    return this.#add(name, fn, { expose, counted })
  }

  /** What the runner pools register: `IsolatePoolOptions.remoteHostApis`. */
  get remote(): RemoteHostApi[] {
    return [...this.#apis].map(([name, { expose, counted, near }]) => ({ name, expose, ...(counted ? {} : { counted }), ...(near ? { near } : {}) }))
  }

  /** `RunnerSupervisorOptions.hostCalls`. */
  readonly handler: HostCallHandler = async (call, cancel) => {
    const api = this.#apis.get(call.name)
    if (api === undefined) throw new AppError('VALIDATION_FAILED', `${call.name} is not a host API`)
    try {
      return await api.fn(call, cancel)
    } catch (error) {
      if (!(error instanceof AppError) && typeof (error as { code?: unknown })?.code !== 'string') this.#onFault(error, call)
      throw error
    }
  }

  #add(name: string, fn: HostApi, { expose = true, counted = true, near = false }: { expose?: boolean; counted?: boolean; near?: boolean } = {}): this {
    if (this.#apis.has(name)) throw new RangeError(`host API ${name} is added already`)
    this.#apis.set(name, { fn, expose, counted, near })
    return this
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function cacheSetOptions(value: unknown): { ttlSeconds?: number } {
  if (value === undefined || value === null) return {}
  if (!isRecord(value)) throw new AppError('CACHE_INVALID', 'cache.set(key, value, options): options must be an object such as { ttlSeconds: 60 }')
  const ttl = value.ttlSeconds
  if (ttl !== undefined && typeof ttl !== 'number') throw new AppError('CACHE_INVALID', 'ttlSeconds must be a number')
  return ttl === undefined ? {} : { ttlSeconds: ttl }
}
