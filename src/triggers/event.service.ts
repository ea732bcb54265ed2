import { z } from 'zod'
import type { Database } from '../db/database.js'
import type { DeadLetter, EventRepository } from '../db/event.repository.js'
import type { Principal } from '../domain/auth.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requirePermission } from '../services/auth.service.js'
import { parseInput } from '../services/validation.js'
import { systemClock, type Clock } from './run-support.js'

/** Dot-separated segments: order.created, billing.invoice.paid. */
export const EVENT_TYPE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/

/** A run triggered by an event of this depth publishes nothing further (recorded as dropped). */
export const MAX_EVENT_DEPTH = 8

const MAX_PAYLOAD_BYTES = 256 * 1024

/** The body of POST /api/v1/events (also the OpenAPI document's). */
export const eventInput = z
  .object({
    type: z.string().min(1).max(200).regex(EVENT_TYPE, 'must be dot-separated segments of letters, digits, _ and - (order.created)'),
    payload: z.unknown().optional(),
    idempotencyKey: z.string().min(1).max(200).optional(),
  })
  .strict()

/** The query of GET /api/v1/dead-letters. */
export const deadLetterListQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().optional() }).strict()

export interface PublishOptions {
  type: string
  payload?: unknown
  idempotencyKey?: string | undefined
  /**
   * The run that publishes (ctx.events.publish): its event depth and execution. The event is one
   * level deeper; without a cause it is a root event (depth 0).
   */
  cause?: { depth: number | null; executionId: string; scriptId?: string | undefined } | undefined
}

/** isogate's own event families: only isogate publishes them (handlers can trust their source). */
export const RESERVED_EVENT_PREFIXES = ['db', 'script', 'execution', 'isogate'] as const

/** True when the type belongs to a family only isogate publishes (db.orders.created, script.updated, ...). */
export function isReservedEventType(type: string): boolean {
  const first = type.split('.', 1)[0] ?? ''
  return (RESERVED_EVENT_PREFIXES as readonly string[]).includes(first.toLowerCase())
}

export interface PublishedEvent {
  id: string
  type: string
  /** Scripts it was delivered to (0 when dropped or when nothing matches). */
  deliveries: number
  /** True when the idempotency key was used within its window: nothing new was stored. */
  duplicate: boolean
  /** Why it was stored but not delivered (the causal depth limit), else null. */
  dropped: string | null
}

export interface EventServiceOptions {
  db: Database
  events: EventRepository
  /** How long an idempotency key is remembered. */
  idempotencySeconds?: number
  /** Called after a commit that made deliveries (wakes this process's dispatcher). */
  onPublished?: () => void
  clock?: Clock
}

/**
 * Publishing events and handling dead letters. An event is in the outbox (with one delivery
 * per matching active event script of the tenant) before `publish` answers.
 *
 * @example
 * await events.publishFor(tenantId, { type: 'order.created', payload: { id: 7 } })
 */
export class EventService {
  readonly #db: Database
  readonly #events: EventRepository
  readonly #idempotencySeconds: number
  readonly #onPublished: () => void
  readonly #clock: Clock

  constructor(options: EventServiceOptions) {
    const seconds = options.idempotencySeconds ?? 86_400
    if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError('options.idempotencySeconds must be a positive integer')
    this.#db = options.db
    this.#events = options.events
    this.#idempotencySeconds = seconds
    this.#onPublished = options.onPublished ?? (() => {})
    this.#clock = options.clock ?? systemClock
  }

  /** POST /api/v1/events. */
  async publish(principal: Principal, tenant: Tenant, body: unknown): Promise<PublishedEvent> {
    requirePermission(principal, 'scripts.execute')
    const input = parseInput(eventInput, body)
    return this.publishFor(tenant.id, { type: input.type, payload: input.payload, idempotencyKey: input.idempotencyKey }, 'api')
  }

  /** For the host API (`ctx.events.publish`) and isogate itself: publish as a tenant. */
  async publishFor(tenantId: string, options: PublishOptions, source: 'api' | 'script' | 'system' = options.cause ? 'script' : 'system'): Promise<PublishedEvent> {
    if (!EVENT_TYPE.test(options.type) || options.type.length > 200) throw new AppError('VALIDATION_FAILED', 'type: must be dot-separated segments (order.created)', { fields: [{ field: 'type', message: 'invalid event type' }] })
    if (source !== 'system' && isReservedEventType(options.type)) {
      throw new AppError('EVENT_TYPE_RESERVED', `${options.type} is an isogate event type; db.*, script.*, execution.* and isogate.* are published by isogate only`, {
        fields: [{ field: 'type', message: 'is reserved for isogate' }],
      })
    }
    const payloadBytes = Buffer.byteLength(JSON.stringify(options.payload ?? null))
    if (payloadBytes > MAX_PAYLOAD_BYTES) {
      throw new AppError('VALIDATION_FAILED', `payload: ${payloadBytes} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`, { fields: [{ field: 'payload', message: 'too large' }] })
    }
    const depth = options.cause ? (options.cause.depth ?? -1) + 1 : 0
    const key = options.idempotencyKey ?? null
    const published = await this.#db.tenant(tenantId, async (tx) => {
      if (key !== null) {
        const earlier = await this.#events.takeKey(tx, tenantId, key, this.#idempotencySeconds)
        if (earlier !== null) {
          const event = await this.#events.findEvent(tx, earlier)
          return { id: earlier, type: event?.type ?? options.type, deliveries: event?.deliveries ?? 0, duplicate: true, dropped: event?.droppedReason ?? null }
        }
      }
      const event = await this.#events.publish(tx, {
        tenantId,
        type: options.type,
        payload: options.payload ?? null,
        idempotencyKey: key,
        depth,
        source,
        causeExecutionId: options.cause?.executionId ?? null,
        causeScriptId: source === 'script' ? (options.cause?.scriptId ?? null) : null,
      })
      if (key !== null) await this.#events.bindKey(tx, tenantId, key, event.id)
      return { id: event.id, type: event.type, deliveries: event.deliveries, duplicate: false, dropped: event.droppedReason }
    })
    if (published.deliveries > 0 && !published.duplicate) this.#onPublished()
    return published
  }

  /** GET /api/v1/dead-letters: newest first, keyset pagination. */
  async deadLetters(principal: Principal, tenant: Tenant, query: unknown): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    requirePermission(principal, 'scripts.read')
    const input = parseInput(deadLetterListQuery, query)
    const after = input.cursor === undefined ? null : decodeCursor(input.cursor)
    const items = await this.#db.tenant(tenant.id, (tx) => this.#events.listDeadLetters(tx, input.limit + 1, after))
    const more = items.length > input.limit
    const page = items.slice(0, input.limit)
    const last = page.at(-1)
    return { items: page, nextCursor: more && last ? encodeCursor(last) : null }
  }

  /** POST /api/v1/dead-letters/{id}/replay: a fresh delivery to the same script, once. */
  async replay(principal: Principal, tenant: Tenant, id: string): Promise<{ deadLetterId: string; deliveryId: string }> {
    requirePermission(principal, 'scripts.execute')
    if (!UUID.test(id)) throw new AppError('DEAD_LETTER_NOT_FOUND')
    const deliveryId = await this.#db.tenant(tenant.id, async (tx) => {
      const letter = await this.#events.findDeadLetterForUpdate(tx, id)
      if (letter === null) throw new AppError('DEAD_LETTER_NOT_FOUND')
      if (letter.replayedAt !== null) {
        throw new AppError('DEAD_LETTER_REPLAYED', `This dead letter was replayed at ${letter.replayedAt.toISOString()}`, { replayDeliveryId: letter.replayDeliveryId })
      }
      const [script] = await tx`SELECT 1 FROM scripts WHERE id = ${letter.scriptId}`
      if (script === undefined) throw new AppError('SCRIPT_NOT_FOUND', 'The script of this dead letter no longer exists')
      if ((await this.#events.findEvent(tx, letter.eventId)) === null) throw new AppError('NOT_FOUND', 'The event of this dead letter was purged')
      return this.#events.replay(tx, letter, tenant.id, new Date(this.#clock.now()))
    })
    this.#onPublished()
    return { deadLetterId: id, deliveryId }
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function encodeCursor(letter: DeadLetter): string {
  return Buffer.from(JSON.stringify([letter.createdAt.toISOString(), letter.id])).toString('base64url')
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string]
    const date = new Date(createdAt)
    if (Number.isNaN(date.getTime()) || !UUID.test(id)) throw new Error('bad cursor')
    return { createdAt: date, id }
  } catch (error) {
    throw new AppError('VALIDATION_FAILED', 'cursor: not a cursor this API gave', { fields: [{ field: 'cursor', message: 'invalid' }] }, { cause: error })
  }
}
