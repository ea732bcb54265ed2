import type { ExecutionRecord } from '../domain/execution.js'
import type { Script } from '../domain/script.js'
import type { Tx } from './database.js'

export interface PublishRequest {
  tenantId: string
  type: string
  payload: unknown
  idempotencyKey: string | null
  depth: number
  source: 'api' | 'script' | 'system'
  causeExecutionId: string | null
  /** The script whose run published it (source 'script'). */
  causeScriptId?: string | null | undefined
}

export interface StoredEvent {
  id: string
  type: string
  deliveries: number
  droppedReason: string | null
  createdAt: Date
}

/** One attempt at delivering an event to a script, as kept on the delivery and the dead letter. */
export interface DeliveryAttempt {
  attempt: number
  executionId: string | null
  claimedBy: string | null
  startedAt: string | null
  finishedAt: string
  error: { code?: string | undefined; message: string } | null
}

/**
 * What an event handler receives: `source` says who published it (isogate itself, an API caller,
 * or a script's ctx.events), `sourceScriptId` which script, for script-published events.
 */
export interface EventSnapshot {
  id: string
  type: string
  source: 'api' | 'script' | 'system'
  sourceScriptId: string | null
  payload: unknown
  depth: number
  idempotencyKey: string | null
  createdAt: string
}

/** A delivery ready to run (or to be given up), locked by the claiming transaction. */
/** The event as an event handler sees it and a dead letter keeps it: plain JSON. */
export function eventSnapshot(delivery: ClaimableDelivery): EventSnapshot {
  return {
    id: delivery.eventId,
    type: delivery.event.type,
    source: delivery.event.source,
    sourceScriptId: delivery.event.sourceScriptId,
    payload: delivery.event.payload,
    depth: delivery.event.depth,
    idempotencyKey: delivery.event.idempotencyKey,
    createdAt: delivery.event.createdAt.toISOString(),
  }
}

export interface ClaimableDelivery {
  id: string
  tenantId: string
  eventId: string
  scriptId: string
  status: 'pending' | 'running'
  attempt: number
  startedAt: Date | null
  claimedBy: string | null
  executionId: string | null
  attempts: DeliveryAttempt[]
  event: { type: string; source: EventSnapshot['source']; sourceScriptId: string | null; payload: unknown; depth: number; idempotencyKey: string | null; createdAt: Date }
  script: { status: Script['status']; version: number; limits: Script['limits']; env: Record<string, string>; source: string; sourceHash: string }
}

export interface DeadLetter {
  id: string
  deliveryId: string
  eventId: string
  scriptId: string
  event: { id: string; type: string; payload: unknown; depth: number; idempotencyKey: string | null; createdAt: string }
  attempts: DeliveryAttempt[]
  createdAt: Date
  replayedAt: Date | null
  replayDeliveryId: string | null
}

interface DeadLetterRow {
  id: string
  delivery_id: string
  event_id: string
  script_id: string
  event: DeadLetter['event']
  attempts: DeliveryAttempt[]
  created_at: Date
  replayed_at: Date | null
  replay_delivery_id: string | null
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    eventId: row.event_id,
    scriptId: row.script_id,
    event: row.event,
    attempts: row.attempts,
    createdAt: row.created_at,
    replayedAt: row.replayed_at,
    replayDeliveryId: row.replay_delivery_id,
  }
}

const json = (tx: Tx, value: unknown) => tx.json(value as never)

/** The event outbox, deliveries and dead letters. */
export class EventRepository {
  /** Stores an event and one delivery per matching active event script (one SQL function). */
  async publish(tx: Tx, request: PublishRequest): Promise<StoredEvent> {
    const [published] = await tx<Array<{ id: string }>>`
      SELECT isogate_publish_event(${request.tenantId}, ${request.type}, ${json(tx, request.payload ?? null)},
        ${request.idempotencyKey}, ${request.depth}, ${request.source}, ${request.causeExecutionId}) AS id`
    if (request.causeScriptId) await tx`UPDATE events SET cause_script_id = ${request.causeScriptId} WHERE id = ${published!.id}`
    return (await this.findEvent(tx, published!.id))!
  }

  /**
   * Takes an idempotency key for this window: null when it is new (or its window is over),
   * else the event it was first used for.
   */
  async takeKey(tx: Tx, tenantId: string, key: string, windowSeconds: number): Promise<string | null> {
    const taken = await tx`
      INSERT INTO event_idempotency (tenant_id, key, event_id, expires_at)
      VALUES (${tenantId}, ${key}, gen_random_uuid(), now() + make_interval(secs => ${windowSeconds}))
      ON CONFLICT (tenant_id, key) DO UPDATE SET event_id = EXCLUDED.event_id, expires_at = EXCLUDED.expires_at
        WHERE event_idempotency.expires_at <= now()
      RETURNING 1`
    if (taken.length === 1) return null
    const [row] = await tx<Array<{ event_id: string }>>`SELECT event_id FROM event_idempotency WHERE tenant_id = ${tenantId} AND key = ${key}`
    return row!.event_id
  }

  async bindKey(tx: Tx, tenantId: string, key: string, eventId: string): Promise<void> {
    await tx`UPDATE event_idempotency SET event_id = ${eventId} WHERE tenant_id = ${tenantId} AND key = ${key}`
  }

  async findEvent(tx: Tx, id: string): Promise<StoredEvent | null> {
    const [row] = await tx<Array<{ id: string; type: string; deliveries: number; dropped_reason: string | null; created_at: Date }>>`
      SELECT id, type, deliveries, dropped_reason, created_at FROM events WHERE id = ${id}`
    return row ? { id: row.id, type: row.type, deliveries: row.deliveries, droppedReason: row.dropped_reason, createdAt: row.created_at } : null
  }

  /** Deliveries due now, and running ones whose lease is over (their process stopped). */
  async claimable(tx: Tx, now: Date, limit: number): Promise<ClaimableDelivery[]> {
    if (limit <= 0) return []
    const rows = await tx<Array<Record<string, any>>>`
      SELECT d.id, d.tenant_id, d.event_id, d.script_id, d.status, d.attempt, d.started_at, d.claimed_by, d.execution_id, d.attempts,
        e.type, e.source AS event_source, e.cause_script_id, e.payload, e.depth, e.idempotency_key, e.created_at AS event_created_at,
        s.status AS script_status, s.version, s.limits, s.env || s.secrets AS env, v.source, v.source_hash
      FROM event_deliveries d
      JOIN events e ON e.id = d.event_id
      JOIN scripts s ON s.id = d.script_id
      JOIN script_versions v ON v.script_id = s.id AND v.version = s.version
      WHERE ((d.status = 'pending' AND d.available_at <= ${now}) OR (d.status = 'running' AND d.lease_until <= ${now}))
        -- A suspended tenant's deliveries wait for its resume.
        AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id AND t.status = 'suspended')
      ORDER BY d.available_at
      LIMIT ${limit}
      FOR UPDATE OF d SKIP LOCKED`
    return rows.map((row) => ({
      id: row.id,
      tenantId: row.tenant_id,
      eventId: row.event_id,
      scriptId: row.script_id,
      status: row.status,
      attempt: row.attempt,
      startedAt: row.started_at,
      claimedBy: row.claimed_by,
      executionId: row.execution_id,
      attempts: row.attempts,
      event: { type: row.type, source: row.event_source, sourceScriptId: row.cause_script_id, payload: row.payload, depth: row.depth, idempotencyKey: row.idempotency_key, createdAt: row.event_created_at },
      script: { status: row.script_status, version: row.version, limits: row.limits, env: row.env, source: row.source, sourceHash: row.source_hash },
    }))
  }

  async markRunning(tx: Tx, id: string, fields: { attempt: number; executionId: string; claimedBy: string; startedAt: Date; leaseUntil: Date; attempts: DeliveryAttempt[] }): Promise<void> {
    await tx`
      UPDATE event_deliveries SET status = 'running', attempt = ${fields.attempt}, execution_id = ${fields.executionId},
        claimed_by = ${fields.claimedBy}, started_at = ${fields.startedAt}, lease_until = ${fields.leaseUntil}, attempts = ${json(tx, fields.attempts)}
      WHERE id = ${id}`
  }

  /** Back to the queue: a retry after a delay, or a paused script's delivery waiting for it. */
  async reschedule(tx: Tx, id: string, availableAt: Date, attempts: DeliveryAttempt[]): Promise<void> {
    await tx`
      UPDATE event_deliveries SET status = 'pending', available_at = ${availableAt}, lease_until = NULL, attempts = ${json(tx, attempts)}
      WHERE id = ${id}`
  }

  async finish(tx: Tx, id: string, status: 'completed' | 'cancelled', attempts: DeliveryAttempt[], now: Date): Promise<void> {
    await tx`
      UPDATE event_deliveries SET status = ${status}, lease_until = NULL, finished_at = ${now}, attempts = ${json(tx, attempts)}
      WHERE id = ${id}`
  }

  /** Still this attempt's? (A delivery taken over after its lease belongs to the new claimer.) */
  async ownsAttempt(tx: Tx, id: string, executionId: string): Promise<boolean> {
    const [row] = await tx`SELECT 1 FROM event_deliveries WHERE id = ${id} AND status = 'running' AND execution_id = ${executionId} FOR UPDATE`
    return row !== undefined
  }

  async deadLetter(tx: Tx, delivery: ClaimableDelivery, attempts: DeliveryAttempt[], now: Date): Promise<void> {
    const event = eventSnapshot(delivery)
    await tx`
      INSERT INTO dead_letters (tenant_id, delivery_id, event_id, script_id, event, attempts, created_at)
      VALUES (${delivery.tenantId}, ${delivery.id}, ${delivery.eventId}, ${delivery.scriptId}, ${json(tx, event)}, ${json(tx, attempts)}, ${now})`
    await tx`
      UPDATE event_deliveries SET status = 'dead', lease_until = NULL, finished_at = ${now}, attempts = ${json(tx, attempts)}
      WHERE id = ${delivery.id}`
  }

  /** When the dispatcher next has work: a pending delivery coming due or a lease running out. */
  async earliest(tx: Tx): Promise<Date | null> {
    const [row] = await tx<Array<{ next: Date | null }>>`
      SELECT least(
        (SELECT min(available_at) FROM event_deliveries d WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id AND t.status = 'suspended')),
        (SELECT min(lease_until) FROM event_deliveries d WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id AND t.status = 'suspended'))) AS next`
    return row?.next ?? null
  }

  /** An event run's record, with the event's depth and type (the execution-event rules need them). */
  async insertExecution(tx: Tx, record: ExecutionRecord, event: { depth: number; type: string }): Promise<void> {
    const row = {
      id: record.id,
      tenant_id: record.tenantId,
      script_id: record.scriptId,
      script_version: record.scriptVersion,
      trigger: record.trigger,
      status: record.status,
      input: record.input === undefined || record.input === null ? null : json(tx, record.input),
      output: record.output === undefined || record.output === null ? null : json(tx, record.output),
      logs: json(tx, record.logs),
      error: record.error === null ? null : json(tx, record.error),
      duration_ms: record.durationMs,
      cpu_ms: record.cpuMs,
      memory_bytes: record.memoryBytes,
      api_calls: record.apiCalls,
      output_bytes: record.outputBytes,
      start_kind: record.startKind,
      created_at: record.createdAt,
      started_at: record.startedAt,
      finished_at: record.finishedAt,
      event_depth: event.depth,
      event_type: event.type,
    }
    await tx`INSERT INTO executions ${tx(row)} ON CONFLICT (id) DO NOTHING`
  }

  async listDeadLetters(tx: Tx, limit: number, after: { createdAt: Date; id: string } | null): Promise<DeadLetter[]> {
    const rows = await tx<DeadLetterRow[]>`
      SELECT id, delivery_id, event_id, script_id, event, attempts, created_at, replayed_at, replay_delivery_id FROM dead_letters
      WHERE ${after === null ? tx`true` : tx`(created_at, id) < (${after.createdAt}, ${after.id})`}
      ORDER BY created_at DESC, id DESC LIMIT ${limit}`
    return rows.map(toDeadLetter)
  }

  async findDeadLetterForUpdate(tx: Tx, id: string): Promise<DeadLetter | null> {
    const [row] = await tx<DeadLetterRow[]>`
      SELECT id, delivery_id, event_id, script_id, event, attempts, created_at, replayed_at, replay_delivery_id FROM dead_letters
      WHERE id = ${id} FOR UPDATE`
    return row ? toDeadLetter(row) : null
  }

  /** A fresh delivery of a dead letter's event to its script (attempts start again at 1). */
  async replay(tx: Tx, letter: DeadLetter, tenantId: string, now: Date): Promise<string> {
    const [row] = await tx<Array<{ id: string }>>`
      INSERT INTO event_deliveries (tenant_id, event_id, script_id, available_at)
      VALUES (${tenantId}, ${letter.eventId}, ${letter.scriptId}, ${now}) RETURNING id`
    await tx`UPDATE dead_letters SET replayed_at = ${now}, replay_delivery_id = ${row!.id} WHERE id = ${letter.id}`
    await tx`SELECT pg_notify('isogate_events', ${tenantId})`
    return row!.id
  }
}
