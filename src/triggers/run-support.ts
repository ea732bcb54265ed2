import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { failedRun, toErrorData, type Executor, type RunResult, type RunTask } from '../../runner/index.js'
import type { Database } from '../db/database.js'

/** The clock the triggers read; tests pass a fake one. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** Names this process in claims (claimed_by), so an operator can see who held what. */
export function instanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
}

/** A runner that threw (unavailable, crashed) is a failed run like any other, recorded as such. */
export async function runSafely(executor: Executor, task: RunTask): Promise<RunResult> {
  try {
    return await executor.run(task)
  } catch (error) {
    return failedRun(toErrorData(error))
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
