import { setTimeout as sleep } from 'node:timers/promises'
import { sumEvicted, type Evicted } from '../protocol.js'
import type { RunnerClient } from './runner-client.js'
import type { RunnerSlot } from './runner-slot.js'

/** What the runners let go of a tenant, and how many did not answer in time. */
export interface RunnersEvicted extends Evicted {
  /** Serving runners that did not answer within the wait: their copy goes at their idle timeout. */
  unanswered: number
}

/**
 * Tells every serving runner process to let go of a tenant now (protocol.ts TenantEvictor): each
 * tells its worker threads, which dispose the tenant's isolate once its runs in flight end and drop
 * its compiled programs; the process drops the sources it kept. A runner that is down holds nothing
 * of the tenant (its replacement starts empty). The wait is bounded: a stuck runner must not hold up
 * a tenant's deletion or suspension, which are in force at the gateway's door before this is asked.
 *
 * @example
 * const evicted = await evictTenant([...fleet.slots, fleet.probation], tenantId, 2000)
 */
export async function evictTenant(slots: readonly RunnerSlot[], tenantId: string, timeoutMs: number): Promise<RunnersEvicted> {
  if (typeof tenantId !== 'string' || tenantId === '') throw new TypeError('tenantId must be a non-empty string')
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be a positive integer')
  const answers = await Promise.all(slots.map((slot) => askOne(slot, tenantId, timeoutMs)))
  const sum: RunnersEvicted = { isolates: 0, programs: 0, unanswered: 0 }
  for (const answer of answers) {
    if (answer === 'late') sum.unanswered++
    else if (answer !== null) {
      sum.isolates += answer.isolates
      sum.programs += answer.programs
    }
  }
  return sum
}

async function askOne(slot: RunnerSlot, tenantId: string, timeoutMs: number): Promise<Evicted | null | 'late'> {
  const client = slot.serving ? slot.client : null
  if (client === null) return null
  const deadline = performance.now() + timeoutMs
  const first = await ask(client, tenantId, timeoutMs)
  if (first === null || first === 'late' || client.runsOf(tenantId) === 0) return first
  // Runs of the tenant sent before the eviction that had not reached their thread (waiting for a
  // slot there) make its isolate again: once the runs in flight now have ended, ask again.
  while (client.runsOf(tenantId) > 0 && performance.now() < deadline) await sleep(10)
  const left = Math.floor(deadline - performance.now())
  if (client.runsOf(tenantId) > 0 || left < 1) return first
  const again = await ask(client, tenantId, left)
  if (again === null || again === 'late') return first
  return sumEvicted([first, again])
}

async function ask(client: RunnerClient, tenantId: string, timeoutMs: number): Promise<Evicted | null | 'late'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'late')
    timer.unref()
  })
  // A runner lost meanwhile (crashed, stopped) took the tenant's isolates with it.
  const asked = (client.call({ type: 'evict', tenantId }, null) as Promise<Evicted>).catch(() => null)
  try {
    return await Promise.race([asked, late])
  } finally {
    clearTimeout(timer)
  }
}
