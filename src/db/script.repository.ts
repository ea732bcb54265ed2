import { routeShape, type HttpMethod, type Script, type ScriptInput, type ScriptStatus, type ScriptType, type ScriptVersion } from '../domain/script.js'
import type { Cursor } from '../domain/page.js'
import type { Tx } from './database.js'

interface ScriptRow {
  id: string
  tenant_id: string
  name: string
  type: ScriptType
  status: ScriptStatus
  version: number
  http_path: string | null
  http_methods: HttpMethod[] | null
  cron_expression: string | null
  cron_timezone: string | null
  event_types: string[] | null
  limits: Script['limits']
  observability: Script['observability'] | null
  env: Record<string, string>
  secrets: Record<string, string>
  http_auth_secret: string | null
  created_at: Date
  updated_at: Date
}

export function toScript(row: ScriptRow): Script {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    type: row.type,
    status: row.status,
    version: row.version,
    http: row.http_path === null ? null : { path: row.http_path, methods: row.http_methods ?? [], ...(row.http_auth_secret === null ? {} : { authSecret: row.http_auth_secret }) },
    cron: row.cron_expression === null ? null : { expression: row.cron_expression, timezone: row.cron_timezone ?? 'UTC' },
    events: row.event_types === null ? null : { types: row.event_types },
    limits: row.limits,
    observability: row.observability ?? {},
    env: row.env,
    secrets: Object.keys(row.secrets ?? {}).sort(),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** What the data plane needs to serve one route: the script, its current source, its tenant. */
/** An active route of another script that a new route would shadow or be shadowed by. */
export interface RouteClash {
  method: string
  path: string
  scriptId: string
  scriptName: string
}

export interface RouteRecord {
  tenantId: string
  tenantSlug: string
  method: HttpMethod
  path: string
  scriptId: string
  version: number
  source: string
  sourceHash: string
  limits: Script['limits']
  /** Share of successful runs recorded in full; undefined: the gateway's default. */
  sampleRate?: number
  /** The script's env with its secrets still sealed (SecretEnv opens them on the way into a run). */
  env: Record<string, string>
  /** The secret a request must present, sealed (null `sealed`: the secret it names is gone). */
  authSecret: { name: string; sealed: string | null } | null
}

export class ScriptRepository {
  /** `sealed`: the script's secrets, sealed (SecretBox); the only values the database ever holds. */
  async insert(tx: Tx, tenantId: string, input: ScriptInput, sealed: Record<string, string>): Promise<Script> {
    const [row] = await tx<ScriptRow[]>`
      INSERT INTO scripts (tenant_id, name, type, status, version, http_path, http_methods, http_auth_secret,
        cron_expression, cron_timezone, event_types, limits, observability, env, secrets)
      VALUES (${tenantId}, ${input.name}, ${input.type}, ${input.status}, 1,
        ${input.http?.path ?? null}, ${input.http ? tx.array(input.http.methods) : null}, ${input.http?.authSecret ?? null},
        ${input.cron?.expression ?? null}, ${input.cron?.timezone ?? null},
        ${input.events ? tx.array(input.events.types) : null},
        ${tx.json(input.limits as postgresJson)}, ${tx.json(input.observability as postgresJson)}, ${tx.json(input.env)}, ${tx.json(sealed)})
      RETURNING *`
    return toScript(row as ScriptRow)
  }

  async insertVersion(tx: Tx, tenantId: string, version: Omit<ScriptVersion, 'createdAt'>, createdBy: string | null): Promise<void> {
    await tx`
      INSERT INTO script_versions (script_id, version, tenant_id, source, source_hash, created_by)
      VALUES (${version.scriptId}, ${version.version}, ${tenantId}, ${version.source}, ${version.sourceHash}, ${createdBy})`
  }

  async findById(tx: Tx, id: string): Promise<Script | null> {
    const [row] = await tx<ScriptRow[]>`SELECT * FROM scripts WHERE id = ${id}`
    return row ? toScript(row) : null
  }

  async findVersion(tx: Tx, scriptId: string, version: number): Promise<ScriptVersion | null> {
    const [row] = await tx<{ script_id: string; version: number; source: string; source_hash: string; created_at: Date }[]>`
      SELECT script_id, version, source, source_hash, created_at FROM script_versions
      WHERE script_id = ${scriptId} AND version = ${version}`
    return row ? { scriptId: row.script_id, version: row.version, source: row.source, sourceHash: row.source_hash, createdAt: row.created_at } : null
  }

  /** The script, locked until the transaction ends: concurrent PATCHes number versions in turn. */
  async lockById(tx: Tx, id: string): Promise<Script | null> {
    const [row] = await tx<ScriptRow[]>`SELECT * FROM scripts WHERE id = ${id} FOR UPDATE`
    return row ? toScript(row) : null
  }

  /** Newest first, keyset on (created_at, id); `limit + 1` rows so the caller sees a next page. */
  async list(tx: Tx, tenantId: string, filter: ScriptFilter): Promise<Array<Script & { cursorAt: string }>> {
    const rows = await tx<Array<ScriptRow & { cursor_at: string }>>`
      SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
      FROM scripts
      WHERE tenant_id = ${tenantId}
        ${filter.type === undefined ? tx`` : tx`AND type = ${filter.type}`}
        ${filter.status === undefined ? tx`` : tx`AND status = ${filter.status}`}
        ${filter.q === undefined ? tx`` : tx`AND name ILIKE ${'%' + escapeLike(filter.q) + '%'}`}
        ${filter.after === undefined ? tx`` : tx`AND (created_at, id) < (${filter.after.at}::text::timestamptz, ${filter.after.id}::uuid)`}
      ORDER BY created_at DESC, id DESC
      LIMIT ${filter.limit + 1}`
    return rows.map((row) => ({ ...toScript(row), cursorAt: row.cursor_at }))
  }

  /** How many scripts the tenant has in each status (statuses with none are absent). */
  async countByStatus(tx: Tx, tenantId: string): Promise<Partial<Record<ScriptStatus, number>>> {
    const rows = await tx<Array<{ status: ScriptStatus; n: number }>>`SELECT status, count(*)::int AS n FROM scripts WHERE tenant_id = ${tenantId} GROUP BY status`
    return Object.fromEntries(rows.map((row) => [row.status, row.n]))
  }

  /** Names of the tenant's scripts among `ids` (deleted ones are absent). */
  async namesOf(tx: Tx, tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map()
    const rows = await tx<Array<{ id: string; name: string }>>`SELECT id, name FROM scripts WHERE tenant_id = ${tenantId} AND id = ANY(${[...new Set(ids)]}::uuid[])`
    return new Map(rows.map((row) => [row.id, row.name]))
  }

  /** The script's secrets as stored (sealed). */
  async sealedSecrets(tx: Tx, id: string): Promise<Record<string, string>> {
    const [row] = await tx<Array<{ secrets: Record<string, string> }>>`SELECT secrets FROM scripts WHERE id = ${id}`
    return row?.secrets ?? {}
  }

  /**
   * Writes every mutable field of `script` (the service has merged the patch into it), and the
   * sealed secrets when given.
   */
  async update(tx: Tx, script: Script, sealed?: Record<string, string>): Promise<Script> {
    const [row] = await tx<ScriptRow[]>`
      UPDATE scripts SET
        name = ${script.name}, type = ${script.type}, status = ${script.status}, version = ${script.version},
        http_path = ${script.http?.path ?? null}, http_methods = ${script.http ? tx.array(script.http.methods) : null},
        http_auth_secret = ${script.http?.authSecret ?? null},
        ${sealed === undefined ? tx`` : tx`secrets = ${tx.json(sealed)},`}
        cron_expression = ${script.cron?.expression ?? null}, cron_timezone = ${script.cron?.timezone ?? null},
        event_types = ${script.events ? tx.array(script.events.types) : null},
        limits = ${tx.json(script.limits as postgresJson)}, observability = ${tx.json(script.observability as postgresJson)}, env = ${tx.json(script.env)}, updated_at = now()
      WHERE id = ${script.id} AND tenant_id = ${script.tenantId}
      RETURNING *`
    return toScript(row as ScriptRow)
  }

  /** Deletes a script; its versions and routes go with it (ON DELETE CASCADE). */
  async delete(tx: Tx, id: string): Promise<boolean> {
    const rows = await tx`DELETE FROM scripts WHERE id = ${id} RETURNING id`
    return rows.length > 0
  }

  /** Versions newest first, without their source; `before` is the last version of the previous page. */
  async listVersions(tx: Tx, scriptId: string, page: { limit: number; before?: number | undefined }): Promise<VersionSummary[]> {
    const rows = await tx<Array<{ version: number; source_hash: string; created_by: string | null; created_at: Date }>>`
      SELECT version, source_hash, created_by, created_at FROM script_versions
      WHERE script_id = ${scriptId} ${page.before === undefined ? tx`` : tx`AND version < ${page.before}`}
      ORDER BY version DESC
      LIMIT ${page.limit + 1}`
    return rows.map((row) => ({ version: row.version, sourceHash: row.source_hash, createdBy: row.created_by, createdAt: row.created_at }))
  }

  /** Replaces the routes a script serves (none unless it is an active http script). */
  async replaceRoutes(tx: Tx, script: Script): Promise<void> {
    await tx`DELETE FROM http_routes WHERE script_id = ${script.id}`
    if (script.type !== 'http' || script.status !== 'active' || script.http === null) return
    const shape = routeShape(script.http.path)
    const rows = script.http.methods.map((method) => ({ tenant_id: script.tenantId, method, path: script.http!.path, shape, script_id: script.id }))
    await tx`INSERT INTO http_routes ${tx(rows, 'tenant_id', 'method', 'path', 'shape', 'script_id')}`
  }

  /**
   * The active route of another script that has the same shape as `path` (parameter names and a
   * trailing slash ignored) for one of `methods`: the route `path` would clash with.
   */
  async routeClash(tx: Tx, script: { id: string; tenantId: string }, path: string, methods: readonly string[]): Promise<RouteClash | null> {
    const rows = await tx<Array<{ method: string; path: string; script_id: string; name: string }>>`
      SELECT r.method, r.path, r.script_id, s.name
      FROM http_routes r JOIN scripts s ON s.id = r.script_id
      WHERE r.tenant_id = ${script.tenantId} AND r.shape = ${routeShape(path)} AND r.method IN ${tx(methods as string[])}
        AND r.script_id <> ${script.id}
      ORDER BY r.method LIMIT 1`
    const row = rows[0]
    return row === undefined ? null : { method: row.method, path: row.path, scriptId: row.script_id, scriptName: row.name }
  }

  /** Every route, or one tenant's, with what the data plane needs to run it. */
  async listRoutes(tx: Tx, tenantId?: string): Promise<RouteRecord[]> {
    const rows = await tx<
      Array<{ tenant_id: string; slug: string; method: HttpMethod; path: string; script_id: string; version: number; source: string; source_hash: string; limits: Script['limits']; sample_rate: number | null; env: Record<string, string>; auth_secret_name: string | null; auth_secret: string | null }>
    >`
      SELECT r.tenant_id, t.slug, r.method, r.path, r.script_id, s.version, v.source, v.source_hash, s.limits, (s.observability ->> 'sampleRate')::float8 AS sample_rate,
        s.env || s.secrets AS env, s.http_auth_secret AS auth_secret_name, s.secrets ->> s.http_auth_secret AS auth_secret
      FROM http_routes r
      JOIN tenants t ON t.id = r.tenant_id
      JOIN scripts s ON s.id = r.script_id
      JOIN script_versions v ON v.script_id = s.id AND v.version = s.version
      WHERE ${tenantId === undefined ? tx`true` : tx`r.tenant_id = ${tenantId}`}`
    return rows.map((row) => ({
      tenantId: row.tenant_id,
      tenantSlug: row.slug,
      method: row.method,
      path: row.path,
      scriptId: row.script_id,
      version: row.version,
      source: row.source,
      sourceHash: row.source_hash,
      limits: row.limits,
      ...(row.sample_rate === null ? {} : { sampleRate: row.sample_rate }),
      env: row.env,
      authSecret: row.auth_secret_name === null ? null : { name: row.auth_secret_name, sealed: row.auth_secret },
    }))
  }
}

type postgresJson = Parameters<Tx['json']>[0]

export interface ScriptFilter {
  type?: ScriptType | undefined
  status?: ScriptStatus | undefined
  /** Part of the name, case-insensitive. */
  q?: string | undefined
  limit: number
  after?: Cursor | undefined
}

export interface VersionSummary {
  version: number
  sourceHash: string
  createdBy: string | null
  createdAt: Date
}

/** `%` and `_` in a search are literal characters, not patterns. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`)
}
