import type { Database, Tx } from '../db/database.js'
import { AuditRepository } from '../db/audit.repository.js'
import type { RouteRecord, ScriptRepository, VersionSummary } from '../db/script.repository.js'
import { auditEntry, scriptSummary } from '../domain/audit.js'
import type { Principal } from '../domain/auth.js'
import { isUuid, pageOf, type Page } from '../domain/page.js'
import {
  rollbackInput,
  scriptInput,
  scriptListQuery,
  scriptPatch,
  SCRIPT_STATUSES,
  secretNameClashes,
  typeRequirementIssues,
  versionListQuery,
  type Script,
  type ScriptStatus,
  type ScriptVersion,
} from '../domain/script.js'
import { STATUS_TRANSITIONS, canTransition } from '../domain/script-status.js'
import type { Tenant } from '../domain/tenant.js'
import { AppError } from '../errors.js'
import { requirePermission } from './auth.service.js'
import type { ChangeFeed } from './change-feed.js'
import { conflictOrRethrow } from './postgres-errors.js'
import { checkScriptFormat } from './script-format.js'
import { checkSource, sourceHash, type SourceChecker } from './source-check.js'
import { parseInput } from './validation.js'
import { SecretBox } from './secret-box.js'
import { SourceMapRepository } from '../db/source-map.repository.js'
import { checkedModule } from './script-module.js'
import type { QuotaService } from './quota.service.js'

export { sourceHash, type SourceChecker } from './source-check.js'

export interface ScriptServiceOptions {
  db: Database
  scripts: ScriptRepository
  checker: SourceChecker
  changes: ChangeFeed
  maxSourceBytes: number
  /** Where changes are recorded; stateless, so one is made when none is given. */
  audit?: AuditRepository
  /** Seals secrets on the way in; opens a route's auth secret for the data plane. */
  secrets: SecretBox
  /** Largest module uploaded as application/javascript (a bundle); maxSourceBytes when not given. */
  maxBundleBytes?: number
  /** Where versions keep their source maps; stateless, so one is made when none is given. */
  sourceMaps?: SourceMapRepository
  /** The tenant's quota caps limits, source size and the number of scripts (none: no caps). */
  quotas?: QuotaService
}

/** How a source arrived: `module` is an application/javascript upload (a bundle, ISOGATE_LIMIT_BUNDLE_BYTES). */
export interface SourceOptions {
  module?: boolean
}

/** A route for the data plane: its auth secret opened (the gateway compares requests with it). */
export type ServedRoute = Omit<RouteRecord, 'authSecret'> & {
  /** undefined: no auth; a string: each request must present it; null: it names a missing secret, so every request is refused. */
  authToken?: string | null
}

export type ScriptView = Script & { source: string; sourceHash: string }

/**
 * Scripts of a tenant: create, read, list, change, delete, versions and rollback. Every write
 * checks the permission again (the route did too), runs in the tenant's transaction with its
 * audit entry, keeps http_routes in step, and publishes the change so the data plane refreshes
 * before the API answers.
 */
export class ScriptService {
  readonly #db: Database
  readonly #scripts: ScriptRepository
  readonly #checker: SourceChecker
  readonly #changes: ChangeFeed
  readonly #maxSourceBytes: number
  readonly #audit: AuditRepository
  readonly #secrets: SecretBox
  readonly #maxBundleBytes: number
  readonly #sourceMaps: SourceMapRepository
  readonly #quotas: QuotaService | undefined

  constructor(options: ScriptServiceOptions) {
    if (!Number.isInteger(options.maxSourceBytes) || options.maxSourceBytes < 1) throw new RangeError('options.maxSourceBytes must be a positive integer')
    this.#db = options.db
    this.#scripts = options.scripts
    this.#checker = options.checker
    this.#changes = options.changes
    this.#maxSourceBytes = options.maxSourceBytes
    this.#audit = options.audit ?? new AuditRepository()
    if (!(options.secrets instanceof SecretBox)) throw new TypeError('options.secrets must be a SecretBox')
    this.#secrets = options.secrets
    this.#maxBundleBytes = options.maxBundleBytes ?? options.maxSourceBytes
    if (!Number.isInteger(this.#maxBundleBytes) || this.#maxBundleBytes < 1) throw new RangeError('options.maxBundleBytes must be a positive integer')
    this.#sourceMaps = options.sourceMaps ?? new SourceMapRepository()
    this.#quotas = options.quotas
  }

  /**
   * Limits and source size within the tenant's quota. A source over the global size is left to
   * the module check (413); a bundle upload is held to ISOGATE_LIMIT_BUNDLE_BYTES only.
   */
  #checkQuota(tenant: Tenant, limits: Script['limits'] | undefined, source: string | undefined, how: SourceOptions = {}): void {
    requireActive(tenant)
    if (this.#quotas === undefined) return
    const bytes = source === undefined || how.module === true ? null : Buffer.byteLength(source)
    this.#quotas.checkScript(tenant.id, limits ?? {}, bytes !== null && bytes <= this.#maxSourceBytes ? bytes : null)
  }

  /** Largest module upload (a bundle) accepted. */
  get maxBundleBytes(): number {
    return this.#maxBundleBytes
  }

  /** Creates a script and its version 1; refuses a source that does not compile. */
  async create(principal: Principal, tenant: Tenant, body: unknown, how: SourceOptions = {}): Promise<ScriptView> {
    requirePermission(principal, 'scripts.create')
    const input = parseInput(scriptInput, body)
    this.#checkQuota(tenant, input.limits, input.source, how)
    const { code, map } = await checkedModule(this.#checker, input.source, this.#limit(how))
    input.source = code
    checkScriptFormat(input.source, input.type)
    const hash = sourceHash(input.source)
    checkAuthSecret(input.http, Object.keys(input.secrets))
    const sealed = this.#seal(tenant.id, {}, input.secrets)
    const script = await this.#db
      .tenant(tenant.id, async (tx) => {
        await this.#quotas?.checkScriptCount(tx, tenant.id)
        const created = await this.#scripts.insert(tx, tenant.id, input, sealed)
        await this.#scripts.insertVersion(tx, tenant.id, { scriptId: created.id, version: 1, source: input.source, sourceHash: hash }, principal.keyId)
        if (map !== null) await this.#sourceMaps.save(tx, created.id, 1, map)
        await this.#checkRoute(tx, created)
        await this.#scripts.replaceRoutes(tx, created)
        await this.#audit.insert(tx, auditEntry(principal, tenant.id, 'script.create', { type: 'script', id: created.id }, null, scriptSummary(created, hash)))
        return created
      })
      .catch(conflictOrRethrow)
    await this.#changes.publish({ tenantId: tenant.id, scriptId: script.id })
    return { ...script, source: input.source, sourceHash: hash }
  }

  /** Compiles a source without saving it (the console checks as you type): SCRIPT_SYNTAX_ERROR with line and column, or nothing. */
  async check(principal: Principal, source: string): Promise<void> {
    requirePermission(principal, 'scripts.create')
    await checkSource(this.#checker, source, this.#maxSourceBytes)
  }

  async get(principal: Principal, tenant: Tenant, id: string): Promise<ScriptView> {
    requirePermission(principal, 'scripts.read')
    if (!isUuid(id)) throw new AppError('SCRIPT_NOT_FOUND')
    const found = await this.#db.tenant(tenant.id, async (tx) => {
      const script = await this.#scripts.findById(tx, id)
      if (script === null) return null
      const version = await this.#scripts.findVersion(tx, id, script.version)
      return { ...script, source: version?.source ?? '', sourceHash: version?.sourceHash ?? '' }
    })
    if (found === null) throw new AppError('SCRIPT_NOT_FOUND')
    return found
  }

  /** Filters (type, status, part of the name) and keyset pages, newest first. */
  async list(principal: Principal, tenant: Tenant, query: unknown): Promise<Page<Script>> {
    requirePermission(principal, 'scripts.read')
    const filter = parseInput(scriptListQuery, query ?? {})
    const rows = await this.#db.tenant(tenant.id, (tx) =>
      this.#scripts.list(tx, tenant.id, { type: filter.type, status: filter.status, q: filter.q, limit: filter.limit, after: filter.cursor }),
    )
    return pageOf(rows, filter.limit, ({ cursorAt: _cursorAt, ...script }) => script)
  }

  /** Exact counts of the tenant's scripts by status, every status present (zero where none). */
  async countByStatus(principal: Principal, tenant: Tenant): Promise<Record<ScriptStatus, number>> {
    requirePermission(principal, 'scripts.read')
    const counts = await this.#db.tenant(tenant.id, (tx) => this.#scripts.countByStatus(tx, tenant.id))
    return Object.fromEntries(SCRIPT_STATUSES.map((status) => [status, counts[status] ?? 0])) as Record<ScriptStatus, number>
  }

  /** Names of the tenant's scripts by id, for lists that show runs or dead letters (deleted scripts are absent). */
  async names(principal: Principal, tenant: Tenant, ids: readonly string[]): Promise<Map<string, string>> {
    requirePermission(principal, 'scripts.read')
    const valid = ids.filter(isUuid)
    return valid.length === 0 ? new Map() : this.#db.tenant(tenant.id, (tx) => this.#scripts.namesOf(tx, tenant.id, valid))
  }

  /**
   * Changes metadata, status (allowed transitions only) and source. A source that differs from
   * the current one makes the next immutable version; the same source makes none.
   */
  async update(principal: Principal, tenant: Tenant, id: string, body: unknown, how: SourceOptions = {}): Promise<ScriptView> {
    requirePermission(principal, 'scripts.update')
    const patch = parseInput(scriptPatch, body)
    if (!isUuid(id)) throw new AppError('SCRIPT_NOT_FOUND')
    this.#checkQuota(tenant, patch.limits, patch.source, how)
    let map: string | null = null
    if (patch.source !== undefined) ({ code: patch.source, map } = await checkedModule(this.#checker, patch.source, this.#limit(how)))
    const view = await this.#db
      .tenant(tenant.id, async (tx) => {
        const current = await this.#lockedView(tx, id)
        if (patch.status !== undefined && !canTransition(current.status, patch.status)) {
          throw new AppError('STATUS_TRANSITION_INVALID', `A ${current.status} script cannot become ${patch.status}`, {
            fields: [{ field: 'status', message: `cannot move from ${current.status} to ${patch.status}` }],
            from: current.status,
            to: patch.status,
            allowed: STATUS_TRANSITIONS[current.status],
          })
        }
        const next: Script = {
          ...current,
          name: patch.name ?? current.name,
          type: patch.type ?? current.type,
          status: patch.status ?? current.status,
          http: patch.http ?? current.http,
          cron: patch.cron ?? current.cron,
          events: patch.events ?? current.events,
          limits: patch.limits ?? current.limits,
          observability: patch.observability ?? current.observability,
          env: patch.env ?? current.env,
        }
        const sealed = patch.secrets === undefined ? undefined : this.#seal(tenant.id, await this.#scripts.sealedSecrets(tx, id), patch.secrets)
        if (sealed !== undefined) next.secrets = Object.keys(sealed).sort()
        const clashes = secretNameClashes(Object.keys(next.env), next.secrets)
        if (clashes.length > 0) {
          const fields = clashes.map((name) => ({ field: `secrets.${name}`, message: `${name} is an env variable too; a name is one or the other` }))
          throw new AppError('VALIDATION_FAILED', `${fields[0]?.field}: ${fields[0]?.message}`, { fields })
        }
        checkAuthSecret(next.http, next.secrets)
        const issues = typeRequirementIssues(next)
        if (issues.length > 0) {
          const fields = issues.map((issue) => ({ field: issue.path, message: issue.message }))
          throw new AppError('VALIDATION_FAILED', `${fields[0]?.field}: ${fields[0]?.message}`, { fields })
        }
        if (patch.source !== undefined || next.type !== current.type) checkScriptFormat(patch.source ?? current.source, next.type)
        let source = current.source
        let hash = current.sourceHash
        if (patch.source !== undefined && sourceHash(patch.source) !== current.sourceHash) {
          source = patch.source
          hash = sourceHash(source)
          next.version = current.version + 1
          await this.#scripts.insertVersion(tx, tenant.id, { scriptId: id, version: next.version, source, sourceHash: hash }, principal.keyId)
          if (map !== null) await this.#sourceMaps.save(tx, id, next.version, map)
        }
        const updated = await this.#scripts.update(tx, next, sealed)
        await this.#checkRoute(tx, updated)
        await this.#scripts.replaceRoutes(tx, updated)
        await this.#auditChange(tx, principal, current, { ...updated, source, sourceHash: hash })
        return { ...updated, source, sourceHash: hash }
      })
      .catch(conflictOrRethrow)
    await this.#changes.publish({ tenantId: tenant.id, scriptId: id })
    return view
  }

  /** Deletes a script with its versions and routes; its executions and audit entries stay. */
  async delete(principal: Principal, tenant: Tenant, id: string): Promise<void> {
    requirePermission(principal, 'scripts.delete')
    requireActive(tenant)
    if (!isUuid(id)) throw new AppError('SCRIPT_NOT_FOUND')
    await this.#db.tenant(tenant.id, async (tx) => {
      const current = await this.#lockedView(tx, id)
      await this.#scripts.delete(tx, id)
      await this.#audit.insert(tx, auditEntry(principal, tenant.id, 'script.delete', { type: 'script', id }, scriptSummary(current, current.sourceHash), null))
    })
    await this.#changes.publish({ tenantId: tenant.id, scriptId: id })
  }

  /** Versions newest first, without source; the cursor is the last version number seen. */
  async versions(principal: Principal, tenant: Tenant, id: string, query: unknown): Promise<Page<VersionSummary>> {
    requirePermission(principal, 'scripts.read')
    const page = parseInput(versionListQuery, query ?? {})
    if (!isUuid(id)) throw new AppError('SCRIPT_NOT_FOUND')
    const rows = await this.#db.tenant(tenant.id, async (tx) => {
      if ((await this.#scripts.findById(tx, id)) === null) throw new AppError('SCRIPT_NOT_FOUND')
      return this.#scripts.listVersions(tx, id, { limit: page.limit, before: page.cursor })
    })
    const more = rows.length > page.limit
    const items = more ? rows.slice(0, page.limit) : rows
    return { items, nextCursor: more ? String(items[items.length - 1]?.version) : null }
  }

  /** One version with its source. */
  async version(principal: Principal, tenant: Tenant, id: string, version: string): Promise<ScriptVersion> {
    requirePermission(principal, 'scripts.read')
    const number = Number(version)
    if (!isUuid(id)) throw new AppError('SCRIPT_NOT_FOUND')
    if (!Number.isInteger(number) || number < 1) throw new AppError('VERSION_NOT_FOUND')
    const found = await this.#db.tenant(tenant.id, async (tx) => {
      if ((await this.#scripts.findById(tx, id)) === null) throw new AppError('SCRIPT_NOT_FOUND')
      return this.#scripts.findVersion(tx, id, number)
    })
    if (found === null) throw new AppError('VERSION_NOT_FOUND')
    return found
  }

  /** Makes the next version with the source of `{version}`; history is never rewritten. */
  async rollback(principal: Principal, tenant: Tenant, id: string, body: unknown): Promise<ScriptView> {
    requirePermission(principal, 'scripts.update')
    const input = parseInput(rollbackInput, body)
    if (!isUuid(id)) throw new AppError('SCRIPT_NOT_FOUND')
    const view = await this.#db.tenant(tenant.id, async (tx) => {
      const current = await this.#lockedView(tx, id)
      const target = await this.#scripts.findVersion(tx, id, input.version)
      if (target === null) throw new AppError('VERSION_NOT_FOUND', `Version ${input.version} of this script does not exist`, { fields: [{ field: 'version', message: 'is not a version of this script' }] })
      this.#checkQuota(tenant, undefined, target.source)
      const version = current.version + 1
      await this.#scripts.insertVersion(tx, tenant.id, { scriptId: id, version, source: target.source, sourceHash: target.sourceHash }, principal.keyId)
      await this.#sourceMaps.copy(tx, id, input.version, version)
      const updated = await this.#scripts.update(tx, { ...current, version })
      await this.#scripts.replaceRoutes(tx, updated)
      await this.#audit.insert(
        tx,
        auditEntry(principal, tenant.id, 'script.rollback', { type: 'script', id }, { version: current.version, sourceHash: current.sourceHash }, {
          version,
          sourceHash: target.sourceHash,
          rolledBackTo: input.version,
        }),
      )
      return { ...updated, source: target.source, sourceHash: target.sourceHash }
    })
    await this.#changes.publish({ tenantId: tenant.id, scriptId: id })
    return view
  }

  /** Routes for the data plane: all of them, or one tenant's after a change. */
  async routes(tenantId?: string): Promise<ServedRoute[]> {
    const records = await this.#db.system((tx) => this.#scripts.listRoutes(tx, tenantId))
    return records.map(({ authSecret, ...route }) => {
      if (authSecret === null) return route
      return { ...route, authToken: authSecret.sealed === null ? null : this.#secrets.open(route.tenantId, authSecret.name, authSecret.sealed) }
    })
  }

  /** The size limit of a source: a module upload is a bundle, with its own larger limit. */
  #limit(how: SourceOptions): number {
    return how.module === true ? this.#maxBundleBytes : this.#maxSourceBytes
  }

  /** `current` sealed secrets with `changes` applied: a value is sealed, null deletes. */
  #seal(tenantId: string, current: Record<string, string>, changes: Record<string, string | null>): Record<string, string> {
    const next = { ...current }
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) delete next[name]
      else next[name] = this.#secrets.seal(tenantId, name, value)
    }
    return next
  }

  /**
   * Refuses a route that another active script of the tenant serves already, also under other
   * parameter names or with a trailing slash (`/r/:a` and `/r/:b/` match the same requests): 409
   * ROUTE_TAKEN naming that script. The unique index on the route's shape backs this up against
   * a concurrent deploy.
   */
  async #checkRoute(tx: Tx, script: Script): Promise<void> {
    if (script.type !== 'http' || script.status !== 'active' || script.http === null) return
    const clash = await this.#scripts.routeClash(tx, script, script.http.path, script.http.methods)
    if (clash === null) return
    throw new AppError(
      'ROUTE_TAKEN',
      `${clash.method} ${script.http.path} would match the same requests as ${clash.method} ${clash.path}, served by the active script "${clash.scriptName}" (${clash.scriptId})`,
      { field: 'http.path', method: clash.method, path: clash.path, scriptId: clash.scriptId, scriptName: clash.scriptName },
    )
  }

  /** The script (locked for this transaction) with its current source, or SCRIPT_NOT_FOUND. */
  async #lockedView(tx: Tx, id: string): Promise<ScriptView> {
    const script = await this.#scripts.lockById(tx, id)
    if (script === null) throw new AppError('SCRIPT_NOT_FOUND')
    const version = await this.#scripts.findVersion(tx, id, script.version)
    return { ...script, source: version?.source ?? '', sourceHash: version?.sourceHash ?? '' }
  }

  /** A status change is its own audit action; any other change is an update (both when both). */
  async #auditChange(tx: Tx, principal: Principal, before: ScriptView, after: ScriptView): Promise<void> {
    const resource = { type: 'script' as const, id: before.id }
    if (before.status !== after.status) {
      await this.#audit.insert(tx, auditEntry(principal, before.tenantId, 'script.status', resource, { status: before.status }, { status: after.status }))
    }
    const was = scriptSummary(before, before.sourceHash)
    const is = scriptSummary(after, after.sourceHash)
    const { status: _wasStatus, ...wasRest } = was
    const { status: _isStatus, ...isRest } = is
    if (JSON.stringify(wasRest) !== JSON.stringify(isRest)) {
      await this.#audit.insert(tx, auditEntry(principal, before.tenantId, 'script.update', resource, was, is))
    }
  }
}

/** A suspended tenant's scripts are read-only (its API answers reads only). */
export function requireActive(tenant: Tenant): void {
  if (tenant.status === 'suspended') throw new AppError('TENANT_SUSPENDED', `The tenant ${tenant.slug} is suspended: its scripts cannot change or run`)
}

/** An http script's authSecret must name one of its secrets. */
function checkAuthSecret(http: { authSecret?: string | undefined } | null | undefined, secretNames: readonly string[]): void {
  const name = http?.authSecret
  if (name === undefined || secretNames.includes(name)) return
  throw new AppError('VALIDATION_FAILED', `http.authSecret: ${name} is not a secret of the script`, {
    fields: [{ field: 'http.authSecret', message: "names none of the script's secrets" }],
  })
}
