import type { ExecutionRecord } from '../domain/execution.js'
import type { Tx } from './database.js'

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

export class ExecutionRepository {
  /** One multi-row INSERT for a batch (records of many tenants: call it in system scope). */
  async insertMany(tx: Tx, records: readonly ExecutionRecord[]): Promise<void> {
    if (records.length === 0) return
    const rows = records.map((r) => ({
      id: r.id,
      tenant_id: r.tenantId,
      script_id: r.scriptId,
      script_version: r.scriptVersion,
      trigger: r.trigger,
      status: r.status,
      input: r.input === undefined || r.input === null ? null : tx.json(r.input as never),
      output: r.output === undefined || r.output === null ? null : tx.json(r.output as never),
      logs: tx.json(r.logs as never),
      error: r.error === null ? null : tx.json(r.error as never),
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
    }))
    await tx`INSERT INTO executions ${tx(rows, ...COLUMNS)} ON CONFLICT (id) DO NOTHING`
  }

  async findById(tx: Tx, id: string): Promise<ExecutionRecord | null> {
    const [row] = await tx<ExecutionRow[]>`SELECT * FROM executions WHERE id = ${id}`
    return row ? toExecution(row) : null
  }
}
