import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { RunLimits, RunResult, RunTask } from '../../runner/index.js'
import { toErrorData } from '../../runner/index.js'
import type { Database } from '../db/database.js'

/** What the scheduler and the dispatcher need of the runner (the IsolatePool or runner processes). */
export interface RunExecutor {
  run(task: RunTask): Promise<RunResult>
}

/** The clock the triggers read; tests pass a fake one. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** Names this process in claims (claimed_by), so an operator can see who held what. */
export function instanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
}

/** The script's limits over the process defaults. */
export function limitsFor(defaults: RunLimits, script: Partial<RunLimits>): RunLimits {
  return { ...defaults, ...script }
}

/** A runner that threw (unavailable, crashed) is a failed run like any other, recorded as such. */
export async function runSafely(runner: RunExecutor, task: RunTask): Promise<RunResult> {
  try {
    return await runner.run(task)
  } catch (error) {
    return { ok: false, error: toErrorData(error), logs: [], metrics: { wallMs: 0, cpuMs: 0, heapBytes: 0, apiCalls: 0, outputBytes: 0, start: 'cold' } }
  }
}

/**
 * Wakes `wake` on this Postgres channel from any process. The embedded database is one process
 * and pglite-socket has one connection (a LISTEN would hold it), so there the in-process
 * notification is the only one needed; answers a function that stops listening.
 */
export async function listen(db: Database, channel: string, wake: () => void, logger: Logger): Promise<() => Promise<void>> {
  if (db.embedded) return async () => {}
  const subscription = await db.sql.listen(channel, () => wake(), () => wake())
  return async () => {
    try {
      await subscription.unlisten()
    } catch (error) {
      logger.warn({ err: error, channel }, 'could not stop listening')
    }
  }
}

export function checkPositive(options: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of keys) {
    const value = options[key]
    if (value === undefined) continue
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`options.${key} must be a number`)
    if (value < 0) throw new RangeError(`options.${key} must not be negative`)
  }
}
