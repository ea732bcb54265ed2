import type { HttpMethod, Script, ScriptInput, ScriptStatus, ScriptType, ScriptVersion } from '../domain/script.js'
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
  env: Record<string, string>
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
    http: row.http_path === null ? null : { path: row.http_path, methods: row.http_methods ?? [] },
    cron: row.cron_expression === null ? null : { expression: row.cron_expression, timezone: row.cron_timezone ?? 'UTC' },
    events: row.event_types === null ? null : { types: row.event_types },
    limits: row.limits,
    env: row.env,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** What the data plane needs to serve one route: the script, its current source, its tenant. */
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
  env: Record<string, string>
}

export class ScriptRepository {
  async insert(tx: Tx, tenantId: string, input: ScriptInput): Promise<Script> {
    const [row] = await tx<ScriptRow[]>`
      INSERT INTO scripts (tenant_id, name, type, status, version, http_path, http_methods,
        cron_expression, cron_timezone, event_types, limits, env)
      VALUES (${tenantId}, ${input.name}, ${input.type}, ${input.status}, 1,
        ${input.http?.path ?? null}, ${input.http ? tx.array(input.http.methods) : null},
        ${input.cron?.expression ?? null}, ${input.cron?.timezone ?? null},
        ${input.events ? tx.array(input.events.types) : null},
        ${tx.json(input.limits as postgresJson)}, ${tx.json(input.env)})
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

  /** Replaces the routes a script serves (none unless it is an active http script). */
  async replaceRoutes(tx: Tx, script: Script): Promise<void> {
    await tx`DELETE FROM http_routes WHERE script_id = ${script.id}`
    if (script.type !== 'http' || script.status !== 'active' || script.http === null) return
    const rows = script.http.methods.map((method) => ({ tenant_id: script.tenantId, method, path: script.http!.path, script_id: script.id }))
    await tx`INSERT INTO http_routes ${tx(rows, 'tenant_id', 'method', 'path', 'script_id')}`
  }

  /** Every route, or one tenant's, with what the data plane needs to run it. */
  async listRoutes(tx: Tx, tenantId?: string): Promise<RouteRecord[]> {
    const rows = await tx<
      Array<{ tenant_id: string; slug: string; method: HttpMethod; path: string; script_id: string; version: number; source: string; source_hash: string; limits: Script['limits']; env: Record<string, string> }>
    >`
      SELECT r.tenant_id, t.slug, r.method, r.path, r.script_id, s.version, v.source, v.source_hash, s.limits, s.env
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
      env: row.env,
    }))
  }
}

type postgresJson = Parameters<Tx['json']>[0]
