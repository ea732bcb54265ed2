/**
 * Host calls that change nothing outside the run: a run lost to a crash after only these (or
 * none) produced nothing anyone saw, so running it again is safe. Every other call (a write, a
 * publish, an outbound fetch, a name added later) counts as an effect.
 */
const READ_ONLY_HOST_CALLS = new Set(['db.get', 'db.query', 'cache.get'])

/** Whether a host call named `name` may have changed something outside the run. */
export function hasEffect(name: string): boolean {
  return !READ_ONLY_HOST_CALLS.has(name)
}

/** Marks the runs of `tenantId` in flight as having caused an effect (host calls name the tenant, not the run). */
export function markEffects(calls: Iterable<{ tenantId: string | null; effects: boolean }>, tenantId: string): void {
  for (const call of calls) if (call.tenantId === tenantId) call.effects = true
}

/** A run ended by a sibling's limit kill may run again when it caused no effect: its answer says so. */
export function markRetryable(value: unknown, effects: boolean): unknown {
  const error = (value as { error?: { code?: unknown; retryable?: boolean } } | null)?.error
  if (error?.code === 'SCRIPT_SIBLING_LIMIT') error.retryable = !effects
  return value
}
