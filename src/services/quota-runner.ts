import type { Executor, RunLimits, RunResult, RunTask } from '../../runner/index.js'
import { SCRIPT_LIMIT_QUOTAS, type TenantQuota } from '../domain/tenant-quota.js'

export interface QuotaRunnerOptions {
  /** The tenant's quota now (in memory: the tenant directory). */
  quotaOf: (tenantId: string) => TenantQuota
  /** Told of every finished run (per-script failure metrics). */
  onResult?: (task: RunTask, result: RunResult) => void
}

/**
 * Every run (HTTP, cron, events, manual) passes here on its way to the runners: its limits are
 * clamped to its tenant's quota, and its tenant's isolate is capped at the tenant's memory quota
 * (`isolateMemoryMb`: the heap is shared by the tenant's scripts, so its limit is the tenant's). A script's own limits are refused over the quota when it is
 * written; what this clamps is a limit the script left to the process default (a quota may sit
 * below the default), and a script written before its quota was set.
 *
 * @example
 * const runner = new QuotaRunner(new SecretEnv(supervisor, box), { quotaOf: (id) => directory.quotaOf(id) })
 */
export class QuotaRunner implements Executor {
  readonly #inner: Executor
  readonly #quotaOf: (tenantId: string) => TenantQuota
  readonly #onResult: ((task: RunTask, result: RunResult) => void) | undefined
  /** Clamped limits by the limits they were clamped from (#clamped); weak, as those are a route's. */
  readonly #clamps = new WeakMap<RunLimits, { quota: TenantQuota; limits: RunLimits }>()

  constructor(inner: Executor, options: QuotaRunnerOptions) {
    if (typeof options.quotaOf !== 'function') throw new TypeError('options.quotaOf must be a function')
    this.#inner = inner
    this.#quotaOf = options.quotaOf
    this.#onResult = options.onResult
  }

  /** A promise chained, not an async function: every run passes here (one frame and resume less). */
  run(task: RunTask): Promise<RunResult> {
    let running: Promise<RunResult>
    try {
      const quota = this.#quotaOf(task.program.tenantId)
      // The tenant's isolate, shared by its scripts, is capped at the tenant's memory quota. Field by
      // field, not a spread: one shape for every task that leaves here (a field added to RunTask
      // must be listed).
      const bounded = {
        kind: task.kind,
        program: task.program,
        input: task.input,
        env: task.env,
        limits: this.#clamped(task.limits, quota),
        trace: task.trace,
        isolateMemoryMb: quota.memoryMb,
      } satisfies Record<keyof RunTask, unknown>
      running = this.#inner.run(bounded)
    } catch (error) {
      return Promise.reject(error)
    }
    const onResult = this.#onResult
    if (onResult === undefined) return running
    return running.then((result) => {
      onResult(task, result)
      return result
    })
  }

  /**
   * The limits within the quota: the same object when none is over it, and one clamped object per
   * limits object and quota, so a route's runs keep sharing theirs (runner/protocol.ts encodeTask
   * writes a head once per limits object).
   */
  #clamped(limits: RunLimits, quota: TenantQuota): RunLimits {
    const held = this.#clamps.get(limits)
    if (held !== undefined && held.quota === quota) return held.limits
    let clamped: RunLimits | null = null
    for (const name of SCRIPT_LIMIT_QUOTAS) {
      if (limits[name] <= quota[name]) continue
      clamped ??= { ...limits }
      clamped[name] = quota[name]
    }
    if (clamped === null) return limits
    Object.freeze(clamped)
    this.#clamps.set(limits, { quota, limits: clamped })
    return clamped
  }
}
