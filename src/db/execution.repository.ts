import type { ExecutionRecord, ExecutionStatus, Trigger } from '../domain/execution.js'
import type { Cursor } from '../domain/page.js'
import type { Database, Tx } from './database.js'

const COLUMNS = [
  'id', 'tenant_id', 'script_id', 'script_version', 'trigger', 'status', 'input', 'output', 'logs', 'error',
  'http_status', 'duration_ms', 'cpu_ms', 'memory_bytes', 'api_calls', 'output_bytes', 'start_kind',
  'created_at', 'started_at', 'finished_at',
] as const

export interface ExecutionRow {
  id: string
  tenant_id: string
  script_id: string
  script_version: number
  trigger: ExecutionRecord['trigger']
  status: ExecutionRecord['status']
  input: unknown
  output: unknown
  logs: ExecutionRecord['logs']
  error: ExecutionRecord['error']
  http_status: number | null
  duration_ms: number | null
  cpu_ms: number | null
  memory_bytes: string | number | null
  api_calls: number | null
  output_bytes: number | null
  start_kind: string | null
  created_at: Date
  started_at: Date | null
  finished_at: Date | null
}

export function toExecution(row: ExecutionRow): ExecutionRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    scriptId: row.script_id,
    scriptVersion: row.script_version,
    trigger: row.trigger,
    status: row.status,
    input: row.input,
    output: row.output,
    logs: row.logs,
    error: row.error,
    httpStatus: row.http_status,
    durationMs: row.duration_ms,
    cpuMs: row.cpu_ms,
    memoryBytes: row.memory_bytes === null ? null : Number(row.memory_bytes),
    apiCalls: row.api_calls,
    outputBytes: row.output_bytes,
    startKind: row.start_kind,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  }
}

/** A record as one JSON object with the table's column names: a batch is a JSON array of them. */
export type ExecutionRowJson = ReturnType<typeof executionRowJson>

export function executionRowJson(r: ExecutionRecord) {
  return {
    id: r.id,
    tenant_id: r.tenantId,
    script_id: r.scriptId,
    script_version: r.scriptVersion,
    trigger: r.trigger,
    status: r.status,
    input: r.input ?? null,
    output: r.output ?? null,
    logs: r.logs,
    error: r.error,
    http_status: r.httpStatus,
    duration_ms: r.durationMs,
    cpu_ms: r.cpuMs,
    memory_bytes: r.memoryBytes,
    api_calls: r.apiCalls,
    output_bytes: r.outputBytes,
    start_kind: r.startKind,
    created_at: r.createdAt,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
  }
}

/**
 * A batch's JSON text. Postgres text cannot hold U+0000 (jsonb refuses the `\u0000` escape), and
 * one such log line would sink the whole batch: it becomes U+FFFD.
 */
export function batchPayload(rows: readonly unknown[]): string {
  return `[${rows.map(rowText).join(',')}]`
}

/** One row's JSON text, as a batch and the failure journal hold it. */
export function rowText(row: unknown): string {
  const text = JSON.stringify(row)
  return text.includes('\\u0000') ? text.replaceAll('\\u0000', '\\ufffd') : text
}

/**
 * One INSERT for a whole batch (records of many tenants: system scope). The batch travels as a
 * single jsonb parameter expanded by jsonb_to_recordset: one value to encode and parse instead of
 * twenty per record, which is most of the client's and the embedded database's work. A repeated
 * id is ignored, so a batch may be written twice (a retry, a journal replay).
 */
const INSERT_BATCH = `
  INSERT INTO executions (${COLUMNS.join(', ')})
  SELECT ${COLUMNS.join(', ')} FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id uuid, tenant_id uuid, script_id uuid, script_version integer, trigger text, status text,
    input jsonb, output jsonb, logs jsonb, error jsonb, http_status integer, duration_ms double precision,
    cpu_ms double precision, memory_bytes bigint, api_calls integer, output_bytes integer, start_kind text,
    created_at timestamptz, started_at timestamptz, finished_at timestamptz)
  ON CONFLICT (id) DO NOTHING`

export class ExecutionRepository {
  /** One INSERT for a batch, in the caller's transaction (system scope for many tenants). */
  async insertMany(tx: Tx, records: readonly ExecutionRecord[]): Promise<void> {
    if (records.length === 0) return
    await tx.unsafe(INSERT_BATCH, [batchPayload(records.map(executionRowJson))])
  }

  /**
   * Writes a batch (`batchPayload` of rows) the cheapest way the database offers: one message to
   * the embedded database's thread, or one statement to a server (Database.systemBatch).
   */
  async writeBatch(db: Database, payload: string): Promise<void> {
    await db.systemBatch(INSERT_BATCH, payload)
  }

  async findById(tx: Tx, id: string): Promise<ExecutionRecord | null> {
    const [row] = await tx<ExecutionRow[]>`SELECT * FROM executions WHERE id = ${id}`
    return row ? toExecution(row) : null
  }

  /** A queued run starts: pending -> running. */
  async markRunning(tx: Tx, id: string, startedAt: Date): Promise<void> {
    await tx`UPDATE executions SET status = 'running', started_at = ${startedAt} WHERE id = ${id} AND status = 'pending'`
  }

  /** Writes a finished run's outcome over its pending or running record. */
  async complete(tx: Tx, r: ExecutionRecord): Promise<void> {
    await tx`
      UPDATE executions SET
        status = ${r.status}, output = ${r.output === undefined || r.output === null ? null : tx.json(r.output as never)},
        logs = ${tx.json(r.logs as never)}, error = ${r.error === null ? null : tx.json(r.error as never)},
        http_status = ${r.httpStatus}, duration_ms = ${r.durationMs}, cpu_ms = ${r.cpuMs}, memory_bytes = ${r.memoryBytes},
        api_calls = ${r.apiCalls}, output_bytes = ${r.outputBytes}, start_kind = ${r.startKind},
        started_at = ${r.startedAt}, finished_at = ${r.finishedAt}
      WHERE id = ${r.id}`
  }

  /**
   * Newest first, keyset on (created_at, id), without the heavy columns (input, output, logs):
   * the detail has them. `limit + 1` rows so the caller sees whether a next page exists.
   */
  async list(tx: Tx, tenantId: string, filter: ExecutionFilter): Promise<Array<ExecutionSummary & { cursorAt: string }>> {
    // An http run's input is {method, url}; its path is the url's, without the query.
    const HTTP_PATH = tx`substring(input->>'url' from '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)')`
    const rows = await tx<Array<ExecutionRow & { cursor_at: string; method: string | null; path: string | null }>>`
      SELECT id, tenant_id, script_id, script_version, trigger, status, NULL::jsonb AS input, NULL::jsonb AS output,
        '[]'::jsonb AS logs, error, http_status, duration_ms, cpu_ms, memory_bytes, api_calls, output_bytes, start_kind,
        created_at, started_at, finished_at,
        CASE WHEN trigger = 'http' THEN input->>'method' END AS method, CASE WHEN trigger = 'http' THEN ${HTTP_PATH} END AS path,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
      FROM executions
      WHERE tenant_id = ${tenantId}
        ${filter.scriptId === undefined ? tx`` : tx`AND script_id = ${filter.scriptId}`}
        ${filter.status === undefined ? tx`` : tx`AND status = ${filter.status}`}
        ${filter.trigger === undefined ? tx`` : tx`AND trigger = ${filter.trigger}`}
        ${filter.httpStatus === undefined ? tx`` : tx`AND http_status BETWEEN ${filter.httpStatus.min} AND ${filter.httpStatus.max}`}
        ${filter.method === undefined ? tx`` : tx`AND trigger = 'http' AND input->>'method' = ${filter.method}`}
        ${filter.path === undefined ? tx`` : filter.path.endsWith('*') ? tx`AND trigger = 'http' AND ${HTTP_PATH} LIKE ${escapeLike(filter.path.slice(0, -1)) + '%'}` : tx`AND trigger = 'http' AND ${HTTP_PATH} = ${filter.path}`}
        ${filter.from === undefined ? tx`` : tx`AND created_at >= ${filter.from}`}
        ${filter.to === undefined ? tx`` : tx`AND created_at < ${filter.to}`}
        ${filter.after === undefined ? tx`` : tx`AND (created_at, id) < (${filter.after.at}::text::timestamptz, ${filter.after.id}::uuid)`}
      ORDER BY created_at DESC, id DESC
      LIMIT ${filter.limit + 1}`
    return rows.map((row) => {
      const { input: _input, output: _output, logs: _logs, ...summary } = toExecution(row)
      return { ...summary, method: row.method, path: row.path, cursorAt: row.cursor_at }
    })
  }

  /**
   * Deletes up to `batchSize` records created before `cutoff` (system scope: every tenant).
   * Small batches keep each transaction short, so the purge never holds locks the hot path needs.
   */
  async purgeBefore(tx: Tx, cutoff: Date, batchSize: number): Promise<number> {
    const rows = await tx`
      DELETE FROM executions WHERE id IN (
        SELECT id FROM executions WHERE created_at < ${cutoff} ORDER BY created_at LIMIT ${batchSize})
      RETURNING id`
    return rows.length
  }
}

/** An execution in a list: the record without input, output and logs. */
export type ExecutionSummary = Omit<ExecutionRecord, 'input' | 'output' | 'logs'> & {
  /** HTTP runs: the request's method and path; null for other triggers. */
  method: string | null
  path: string | null
}

export interface ExecutionFilter {
  scriptId?: string | undefined
  status?: ExecutionStatus | undefined
  trigger?: Trigger | undefined
  /** http_status within this range (inclusive). */
  httpStatus?: { min: number; max: number } | undefined
  method?: string | undefined
  /** The exact path, or a prefix when it ends with `*`. */
  path?: string | undefined
  /** created_at >= from */
  from?: Date | undefined
  /** created_at < to */
  to?: Date | undefined
  limit: number
  after?: Cursor | undefined
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`)
}
