/**
 * Near copies: a host API's answer a worker thread may keep and answer again itself, so a
 * script's repeated `ctx.cache.get` costs no trip to the gateway (issue 22: a round trip crossed
 * two processes and woke three threads, about 300 us on this machine; a kept answer is a
 * microtask). The gateway stays the one place the data lives; a thread keeps what it read.
 *
 * Coherence, with one clock on the gateway that every change of a tenant's data ticks:
 * - The gateway answers a read with terms (`NearTerms`): the clock when it answered, and how long
 *   the copy may live. Only a thread's own socket gets terms (host-call-listener.ts), and only
 *   when the tenant's data did not change between the read and the answer.
 * - From its first kept answer for a tenant, a thread's socket is told of every change of that
 *   tenant's data (`NearDropMessage`), at the moment of the change, so a drop always reaches the
 *   thread before any later answer on that socket. A thread drops its copies when its socket closes.
 * - Each run carries its tenant's version when the gateway sent it (`WireTask.near`: the clock of
 *   the tenant's last change). A thread answers from a copy only once its socket has brought a
 *   clock that high: a drop it must see (a change the run's request may have been caused by) is
 *   then in. So a write acknowledged to one run is seen by every run sent after it, on any
 *   thread or runner; a run already going sees it as soon as the drop arrives.
 */

/** What the gateway says of an answer a thread may keep. */
export interface NearTerms {
  /** The gateway's clock when it answered: every drop before it is on the socket ahead of this answer. */
  clock: number
  /** How long the copy may answer, from when it arrives (the entry's own expiry, at most NEAR_MAX_MS). */
  ttlMs: number
  /** The answer's size as the gateway holds it (serialized): what the thread's budget counts. */
  bytes: number
}

/** The longest a kept answer answers: a bound on any staleness the protocol does not foresee. */
export const NEAR_MAX_MS = 60_000

/**
 * What a host API answers when the answer may be kept near (`RemoteHostApi.near`): the value, and
 * the tenant's version when it was read. The host-call listener turns it into terms, or into a
 * plain answer when the tenant's data changed meanwhile or the caller keeps nothing.
 *
 * @example
 * const { value, version, ttlMs, bytes } = cache.near(tenantId, key)
 * return new NearAnswer(value, version, ttlMs, bytes)
 */
export class NearAnswer {
  constructor(
    readonly value: unknown,
    /** The tenant's version (NearSource.versionOf) when the value was read. */
    readonly version: number,
    readonly ttlMs: number,
    readonly bytes: number,
  ) {}
}

/** A change of `tenantId`'s data at `clock`: one key, or all of them (null: the tenant's data went). */
export type NearDrop = [tenantId: string, key: string | null, clock: number]

/** From the gateway to a thread: copies it may hold that changed. */
export interface NearDropMessage {
  nearDrop: NearDrop
}

/**
 * From a thread to the gateway, now and then: keys it answered from copies since it last said,
 * [tenantId, key] each, so the gateway counts them as used (its least recently used go first).
 */
export interface NearTouchMessage {
  nearTouch: Array<[tenantId: string, key: string]>
}

/**
 * The gateway's side of the data that threads keep copies of (the tenant cache): its clock, each
 * tenant's version, and every change as it happens.
 */
export interface NearSource {
  /** The clock: ticks on every change of any tenant's data. */
  clock(): number
  /** The clock of `tenantId`'s last change (or a later clock): what a run sent now carries. */
  versionOf(tenantId: string): number
  /** Calls `listener` on every change, synchronously, before the change is answered. */
  onDrop(listener: (drop: NearDrop) => void): void
  /** A key a thread answered from its copy: used, as if read here. */
  touch(tenantId: string, key: string): void
}
