import { createHash } from 'node:crypto'
import type { CheckResult } from '../../runner/index.js'
import type { Database } from '../db/database.js'
import type { RouteRecord, ScriptRepository } from '../db/script.repository.js'
import type { Principal } from '../domain/auth.js'
import { scriptInput, type Script } from '../domain/script.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requirePermission } from './auth.service.js'
import type { ChangeFeed } from './change-feed.js'
import { conflictOrRethrow } from './postgres-errors.js'
import { parseInput } from './validation.js'

/** Compiles a source without running it (the runner does, in a scratch isolate). */
export interface SourceChecker {
  check(source: string): Promise<CheckResult>
}

export interface ScriptServiceOptions {
  db: Database
  scripts: ScriptRepository
  checker: SourceChecker
  changes: ChangeFeed
  maxSourceBytes: number
}

export type ScriptView = Script & { source: string; sourceHash: string }

export function sourceHash(source: string): string {
  return createHash('sha256').update(source).digest('hex')
}

export class ScriptService {
  readonly #db: Database
  readonly #scripts: ScriptRepository
  readonly #checker: SourceChecker
  readonly #changes: ChangeFeed
  readonly #maxSourceBytes: number

  constructor(options: ScriptServiceOptions) {
    this.#db = options.db
    this.#scripts = options.scripts
    this.#checker = options.checker
    this.#changes = options.changes
    this.#maxSourceBytes = options.maxSourceBytes
  }

  /** Creates a script and its version 1; refuses a source that does not compile. */
  async create(principal: Principal, tenant: Tenant, body: unknown): Promise<ScriptView> {
    requirePermission(principal, 'scripts.create')
    const input = parseInput(scriptInput, body)
    await this.#checkSource(input.source)
    const hash = sourceHash(input.source)
    const script = await this.#db
      .tenant(tenant.id, async (tx) => {
        const created = await this.#scripts.insert(tx, tenant.id, input)
        await this.#scripts.insertVersion(tx, tenant.id, { scriptId: created.id, version: 1, source: input.source, sourceHash: hash }, principal.keyId)
        await this.#scripts.replaceRoutes(tx, created)
        return created
      })
      .catch(conflictOrRethrow)
    await this.#changes.publish({ tenantId: tenant.id, scriptId: script.id })
    return { ...script, source: input.source, sourceHash: hash }
  }

  async get(principal: Principal, tenant: Tenant, id: string): Promise<ScriptView> {
    requirePermission(principal, 'scripts.read')
    if (!UUID.test(id)) throw new AppError('SCRIPT_NOT_FOUND')
    const found = await this.#db.tenant(tenant.id, async (tx) => {
      const script = await this.#scripts.findById(tx, id)
      if (script === null) return null
      const version = await this.#scripts.findVersion(tx, id, script.version)
      return { ...script, source: version?.source ?? '', sourceHash: version?.sourceHash ?? '' }
    })
    if (found === null) throw new AppError('SCRIPT_NOT_FOUND')
    return found
  }

  /** Routes for the data plane: all of them, or one tenant's after a change. */
  routes(tenantId?: string): Promise<RouteRecord[]> {
    return this.#db.system((tx) => this.#scripts.listRoutes(tx, tenantId))
  }

  async #checkSource(source: string): Promise<void> {
    const bytes = Buffer.byteLength(source)
    if (bytes > this.#maxSourceBytes) {
      throw new AppError('SOURCE_TOO_LARGE', `The source is ${bytes} bytes; the limit is ${this.#maxSourceBytes}`, { field: 'source', limit: this.#maxSourceBytes })
    }
    const result = await this.#checker.check(source)
    if (result.ok) return
    const error = result.error
    const code = error?.code === 'SCRIPT_IMPORT_FORBIDDEN' ? 'SCRIPT_IMPORT_FORBIDDEN' : 'SCRIPT_SYNTAX_ERROR'
    throw new AppError(code, error?.message, { field: 'source', line: error?.line, column: error?.column, pointer: error?.pointer })
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
