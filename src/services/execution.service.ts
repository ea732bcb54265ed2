import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { failedRun, runTask, type Executor, type RunLimits, type RunResult, type RunTask } from '../../runner/index.js'
import type { Database } from '../db/database.js'
import type { ExecutionRepository, ExecutionSummary } from '../db/execution.repository.js'
import type { ScriptRepository } from '../db/script.repository.js'
import type { Principal } from '../domain/auth.js'
import { executionListQuery, runInput, statusFilter } from '../domain/execution-query.js'
import { ScriptNameRepository } from '../db/script-name.repository.js'
import type { SourceMaps } from './source-map.js'
import { recordOf, unrunRecord, type ExecutionRecord } from '../domain/execution.js'
import { isUuid, pageOf, type Page } from '../domain/page.js'
import { canRunManually } from '../domain/script-status.js'
import type { Script } from '../domain/script.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requirePermission } from './auth.service.js'
import { parseInput } from './validation.js'

export interface ExecutionServiceOptions {
  db: Database
  scripts: ScriptRepository
  executions: ExecutionRepository
  executor: Executor
  /** Limits of a run where the script sets none (config defaults). */
  defaultLimits: RunLimits
  logger: Logger
  /** Maps errors of bundled versions to their original source when a record is read. */
  sourceMaps?: SourceMaps
  /** Resolves `?script=<name>`; stateless, so one is made when none is given. */
  names?: ScriptNameRepository
}

/** An execution as the API shows it: an HTTP run's method and path beside the record. */
export type ExecutionView = ExecutionRecord & { method: string | null; path: string | null }

/** What `?async=true` answers at once; the record is readable at GET /executions/{id}. */
export interface QueuedRun {
  id: string
  status: 'pending'
}

/**
 * Manual runs and the execution history. A manual run is recorded before it starts (pending or
 * running) and its outcome written over that record, so a run is visible while it runs and a
 * failure of the host is still recorded.
 */
export class ExecutionService {
  readonly #options: ExecutionServiceOptions
  readonly #inFlight = new Set<Promise<void>>()

  constructor(options: ExecutionServiceOptions) {
    for (const key of ['timeoutMs', 'cpuMs', 'memoryMb', 'apiCalls', 'outputBytes'] as const) {
      const value = options.defaultLimits?.[key]
      if (!Number.isInteger(value) || (value as number) < 0) throw new RangeError(`options.defaultLimits.${key} must be a non-negative integer`)
    }
    this.#options = options
  }

  /** Runs the script's `run(input, env, ctx)` handler now; with `async`, answers before it ends. */
  async run(principal: Principal, tenant: Tenant, scriptId: string, body: unknown, options: { async: boolean }): Promise<ExecutionView | QueuedRun> {
    requirePermission(principal, 'scripts.execute')
    const { input = null } = parseInput(runInput, body ?? {})
    if (!isUuid(scriptId)) throw new AppError('SCRIPT_NOT_FOUND')
    const { db, scripts, executions } = this.#options
    const executionId = randomUUID()
    const task = await db.tenant(tenant.id, async (tx) => {
      const script = await scripts.findById(tx, scriptId)
      if (script === null) throw new AppError('SCRIPT_NOT_FOUND')
      if (!canRunManually(script.status)) throw new AppError('SCRIPT_NOT_RUNNABLE', `A ${script.status} script cannot run`, { status: script.status })
      const version = await scripts.findVersion(tx, scriptId, script.version)
      if (version === null) throw new AppError('SCRIPT_NOT_FOUND')
      // Secrets join env still sealed; the executor (SecretEnv) opens them on the way into the run.
      const env = { ...script.env, ...(await scripts.sealedSecrets(tx, scriptId)) }
      return this.#task(script, version.source, version.sourceHash, input, executionId, env)
    })
    const now = new Date()
    const base = { id: executionId, tenantId: tenant.id, scriptId, scriptVersion: task.program.version, trigger: 'manual' as const, input }
    const pending = unrunRecord({
      ...base,
      status: options.async ? 'pending' : 'running',
      createdAt: now,
      startedAt: options.async ? null : now,
      finishedAt: null,
    })
    await db.tenant(tenant.id, (tx) => executions.insertMany(tx, [pending]))
    if (!options.async) return this.#view(await this.#execute(base, task, now))
    const running = this.#execute(base, task, null).then(
      () => undefined,
      (error: unknown) => this.#options.logger.error({ err: error, executionId: base.id }, 'a queued manual run could not be recorded'),
    )
    this.#inFlight.add(running)
    void running.finally(() => this.#inFlight.delete(running))
    return { id: base.id, status: 'pending' }
  }

  async list(principal: Principal, tenant: Tenant, query: unknown): Promise<Page<ExecutionSummary>> {
    requirePermission(principal, 'scripts.read')
    const filter = parseInput(executionListQuery, query ?? {})
    const names = this.#options.names ?? new ScriptNameRepository()
    const rows = await this.#options.db.tenant(tenant.id, async (tx) => {
      let scriptId = filter.scriptId
      if (filter.script !== undefined) {
        const named = await names.idOf(tx, tenant.id, filter.script)
        if (named === null || (scriptId !== undefined && scriptId !== named)) throw new AppError('SCRIPT_NOT_FOUND', `No script named ${filter.script}`, { field: 'script' })
        scriptId = named
      }
      return this.#options.executions.list(tx, tenant.id, {
        scriptId,
        ...statusFilter(filter.status),
        method: filter.method,
        path: filter.path,
        trigger: filter.trigger,
        from: filter.from,
        to: filter.to,
        limit: filter.limit,
        after: filter.cursor,
      })
    })
    return pageOf(rows, filter.limit, ({ cursorAt: _cursorAt, ...summary }) => summary)
  }

  async get(principal: Principal, tenant: Tenant, id: string): Promise<ExecutionView> {
    requirePermission(principal, 'scripts.read')
    if (!isUuid(id)) throw new AppError('EXECUTION_NOT_FOUND')
    const found = await this.#options.db.tenant(tenant.id, (tx) => this.#options.executions.findById(tx, id))
    if (found === null) throw new AppError('EXECUTION_NOT_FOUND')
    return this.#view(found)
  }

  /** The record as shown: its error in the original source (a bundle's map), an HTTP run's method and path. */
  async #view(record: ExecutionRecord): Promise<ExecutionView> {
    const request = record.trigger === 'http' ? (record.input as { method?: unknown; url?: unknown } | null) : null
    const method = typeof request?.method === 'string' ? request.method : null
    const path = typeof request?.url === 'string' ? urlPath(request.url) : null
    const maps = this.#options.sourceMaps
    if (record.error === null || maps === undefined) return { ...record, method, path }
    try {
      return { ...record, error: await maps.mapError(record.tenantId, record.scriptId, record.scriptVersion, record.error), method, path }
    } catch (error) {
      // The record is worth more than its mapping: show it as it was run.
      this.#options.logger.warn({ err: error, executionId: record.id }, 'could not map an error through its source map')
      return { ...record, method, path }
    }
  }

  /** Resolves when every queued run has finished and been recorded (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
  }

  async #execute(
    base: { id: string; tenantId: string; scriptId: string; scriptVersion: number; trigger: 'manual'; input: unknown },
    task: RunTask,
    startedAt: Date | null,
  ): Promise<ExecutionRecord> {
    const { db, executions, executor } = this.#options
    const started = startedAt ?? new Date()
    if (startedAt === null) await db.tenant(base.tenantId, (tx) => executions.markRunning(tx, base.id, started))
    let result: RunResult
    try {
      result = await executor.run(task)
    } catch (error) {
      // The host failed (not the script): still a finished run, recorded as failed with the code.
      this.#options.logger.error({ err: error, executionId: base.id }, 'manual run failed in the host')
      const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'INTERNAL_ERROR'
      result = failedRun({ code, message: (error as Error).message ?? 'Internal error' }, { wallMs: Date.now() - started.getTime() })
    }
    const record = recordOf({ ...base, startedAt: started }, result)
    await db.tenant(base.tenantId, (tx) => executions.complete(tx, record))
    return record
  }

  #task(script: Script, source: string, hash: string, input: unknown, executionId: string, env: Record<string, string>): RunTask {
    return runTask({
      kind: 'run',
      program: { tenantId: script.tenantId, scriptId: script.id, version: script.version, sourceHash: hash, source },
      input,
      env,
      defaults: this.#options.defaultLimits,
      limits: script.limits,
      executionId,
    })
  }
}

/** The path of a recorded url, as the list's SQL reads it (execution.repository.ts). */
function urlPath(url: string): string {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*([^?#]*)/.exec(url)?.[1] ?? url
}
