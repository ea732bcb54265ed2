import { createHash, randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { ErrorData, RunLimits, RunResult, RunTask } from '../../runner/index.js'
import { AuditRepository } from '../db/audit.repository.js'
import type { Database } from '../db/database.js'
import type { ExecutionRepository } from '../db/execution.repository.js'
import { AD_HOC_SCRIPT_ID, executeInput, type ExecuteAnswer, type ExecuteInput } from '../domain/ad-hoc.js'
import { auditEntry } from '../domain/audit.js'
import type { Principal } from '../domain/auth.js'
import { recordOf, unrunRecord } from '../domain/execution.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requirePermission } from './auth.service.js'
import { parseInput } from './validation.js'

/** What ad-hoc runs need of the runner: the same executor every run goes through. */
export interface AdHocExecutor {
  run(task: RunTask): Promise<RunResult>
}

export interface AdHocExecutionServiceOptions {
  db: Database
  executions: ExecutionRepository
  executor: AdHocExecutor
  /** The tenant's limits; a request may only lower them. */
  defaultLimits: RunLimits
  /** Largest code accepted (the hand-written source limit). */
  maxCodeBytes: number
  logger: Logger
  audit?: AuditRepository
}

/** Lines the wrapper puts before the code: an error's line in the program minus this is its line in the code. */
const LINES_BEFORE = 2

/**
 * Ad-hoc execute (the javascriptd model): code that is not a deployed script, run once in a fresh
 * context of the tenant's isolate with the tenant's host APIs, through the same executor as every
 * run, so the runner protocol does not change. The code becomes a one-off program (a module whose
 * `run` evaluates it as an async function body with the globals in scope, then calls `call`);
 * each run's program is unique, so it gets a context of its own. Every run is audited and
 * recorded as a manual run before it starts, its outcome written over the record after.
 *
 * @example
 * const answer = await service.execute(principal, tenant, { code: 'return input * 2', input: 21 })
 * answer.value // 42
 */
export class AdHocExecutionService {
  readonly #options: AdHocExecutionServiceOptions
  readonly #audit: AuditRepository

  constructor(options: AdHocExecutionServiceOptions) {
    if (!Number.isInteger(options.maxCodeBytes) || options.maxCodeBytes < 1) throw new RangeError('options.maxCodeBytes must be a positive integer')
    this.#options = options
    this.#audit = options.audit ?? new AuditRepository()
  }

  async execute(principal: Principal, tenant: Tenant, body: unknown): Promise<ExecuteAnswer> {
    requirePermission(principal, 'code.execute')
    const request = parseInput(executeInput, body ?? {})
    const bytes = Buffer.byteLength(request.code)
    if (bytes > this.#options.maxCodeBytes) {
      throw new AppError('SOURCE_TOO_LARGE', `The code is ${bytes} bytes; the limit is ${this.#options.maxCodeBytes}`, { field: 'code', limit: this.#options.maxCodeBytes })
    }
    const { db, executions, executor } = this.#options
    const id = randomUUID()
    const source = program(request, id)
    const input = { code: request.code, input: request.input ?? null, globals: request.globals, call: request.call ?? null }
    const startedAt = new Date()
    const base = { id, tenantId: tenant.id, scriptId: AD_HOC_SCRIPT_ID, scriptVersion: 0, trigger: 'manual' as const, input }
    await db.tenant(tenant.id, async (tx) => {
      await executions.insertMany(tx, [unrunRecord({ ...base, status: 'running', createdAt: startedAt, startedAt, finishedAt: null })])
      await this.#audit.insert(tx, auditEntry(principal, tenant.id, 'code.execute', { type: 'execution', id }, null, {
        codeSha256: createHash('sha256').update(request.code).digest('hex'),
        codeBytes: bytes,
        call: request.call ?? null,
        globals: Object.keys(request.globals).sort(),
      }))
    })
    const task: RunTask = {
      kind: 'run',
      program: { tenantId: tenant.id, scriptId: AD_HOC_SCRIPT_ID, version: 0, sourceHash: createHash('sha256').update(source).digest('hex'), source },
      input: { input: request.input ?? null, globals: request.globals },
      env: {},
      limits: lowered(this.#options.defaultLimits, request.limits),
      trace: { executionId: id, eventDepth: null },
    }
    let result: RunResult
    try {
      result = await executor.run(task)
    } catch (error) {
      this.#options.logger.error({ err: error, executionId: id }, 'ad-hoc run failed in the host')
      const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'INTERNAL_ERROR'
      result = { ok: false, error: { code, message: (error as Error).message ?? 'Internal error' }, logs: [], metrics: { wallMs: Date.now() - startedAt.getTime(), cpuMs: 0, heapBytes: 0, apiCalls: 0, outputBytes: 0, start: 'cold' } }
    }
    const error = result.error === undefined ? null : inCode(result.error, request.code)
    const record = recordOf({ ...base, startedAt }, { ...result, ...(error === null ? {} : { error: { ...result.error, ...error } as ErrorData }) })
    await db.tenant(tenant.id, (tx) => executions.complete(tx, record))
    return {
      id,
      value: result.ok ? (result.output ?? null) : null,
      console: result.logs.map((entry) => ({ level: entry.level, message: entry.message })),
      timeMs: result.metrics.wallMs,
      error,
    }
  }
}

/**
 * The one-off module: the code as the body of an async function whose parameters are `input`,
 * `env`, `ctx` and the globals, starting on line LINES_BEFORE + 1 at column 1 so its locations
 * are the code's plus a fixed offset. The execution id in the last line makes every program new.
 */
function program(request: ExecuteInput, executionId: string): string {
  const names = Object.keys(request.globals)
  const args = names.map((name) => `__adhoc.globals[${JSON.stringify(name)}]`)
  return [
    'export default { async run(__adhoc, env, ctx) {',
    `return (async function (input, env, ctx${names.map((name) => `, ${name}`).join('')}) {`,
    request.code,
    `;${request.call === undefined ? '' : `return await ${request.call}(input, env, ctx)`}`,
    `}).call(undefined, __adhoc.input, env, ctx${args.map((arg) => `, ${arg}`).join('')})`,
    '} }',
    `// isogate ad-hoc run ${executionId}`,
  ].join('\n')
}

/** The error with its line and column in the user's code (null when it is in the wrapper), its stack likewise. */
function inCode(error: ErrorData, code: string): NonNullable<ExecuteAnswer['error']> {
  const lines = code.split('\n').length
  const place = (line: number): number | null => (line > LINES_BEFORE && line <= LINES_BEFORE + lines ? line - LINES_BEFORE : null)
  let line: number | null = null
  let column: number | null = null
  let at: { line: number; column: number } | null = typeof error.line === 'number' && typeof error.column === 'number' ? { line: error.line, column: error.column } : null
  if (at === null && typeof error.stack === 'string') {
    const frame = /script\.js:(\d+):(\d+)/.exec(error.stack)
    if (frame !== null) at = { line: Number(frame[1]), column: Number(frame[2]) }
  }
  if (at !== null && place(at.line) !== null) {
    line = place(at.line)
    column = at.column
  }
  // Frames in the code, renamed `code:line:column`; the wrapper's own frames are not the caller's business.
  const stack = error.stack
    ?.split('\n')
    .map((frame) => frame.replace(/script\.js:(\d+):(\d+)/g, (whole, l: string, c: string) => {
      const mapped = place(Number(l))
      return mapped === null ? whole : `code:${mapped}:${c}`
    }))
    .filter((frame) => !(frame.startsWith('    at ') && frame.includes('script.js:')))
    .join('\n')
  const message = error.message.replace(/ \(line \d+, column \d+\)$/, '')
  return { code: error.code, message, line, column, ...(stack === undefined ? {} : { stack }) }
}

/** The tenant's limits, each lowered where the request asks for less. */
function lowered(defaults: RunLimits, asked: ExecuteInput['limits']): RunLimits {
  const out = { ...defaults }
  for (const key of Object.keys(out) as Array<keyof RunLimits>) {
    const value = asked[key]
    if (typeof value === 'number') out[key] = Math.min(out[key], value)
  }
  return out
}
