import type { ErrorData, LogEntry, RunResult } from '../../runner/index.js'

export const EXECUTION_STATUSES = ['pending', 'running', 'completed', 'failed', 'timeout', 'cancelled', 'skipped'] as const
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number]

export const TRIGGERS = ['http', 'cron', 'event', 'manual'] as const
export type Trigger = (typeof TRIGGERS)[number]

/** One run of a script, as recorded: what went in, what came out, what it cost. */
export interface ExecutionRecord {
  id: string
  tenantId: string
  scriptId: string
  scriptVersion: number
  trigger: Trigger
  status: ExecutionStatus
  input: unknown
  output: unknown
  logs: LogEntry[]
  error: ErrorData | null
  httpStatus: number | null
  durationMs: number | null
  cpuMs: number | null
  memoryBytes: number | null
  apiCalls: number | null
  outputBytes: number | null
  startKind: string | null
  createdAt: Date
  startedAt: Date | null
  finishedAt: Date | null
}

/** The fields of a record that say which run it is, whatever its outcome. */
export type RecordIdentity = Pick<ExecutionRecord, 'id' | 'tenantId' | 'scriptId' | 'scriptVersion' | 'trigger' | 'status' | 'input' | 'createdAt' | 'startedAt' | 'finishedAt'>

/** A record with no run result: pending or running, or a run that never happened (skipped, lost). */
export function unrunRecord(identity: RecordIdentity, error: ErrorData | null = null): ExecutionRecord {
  return {
    ...identity,
    output: null,
    logs: [],
    error,
    httpStatus: null,
    durationMs: null,
    cpuMs: null,
    memoryBytes: null,
    apiCalls: null,
    outputBytes: null,
    startKind: null,
  }
}

/** The final status of a finished run. */
export function statusOf(result: RunResult): ExecutionStatus {
  if (result.ok) return 'completed'
  return result.error?.code === 'SCRIPT_TIMEOUT' ? 'timeout' : 'failed'
}

/** A record of a finished run, from the runner's result. */
export function recordOf(
  base: { id: string; tenantId: string; scriptId: string; scriptVersion: number; trigger: Trigger; input: unknown; startedAt: Date },
  result: RunResult,
): ExecutionRecord {
  const finishedAt = new Date()
  return {
    ...base,
    status: statusOf(result),
    output: result.ok ? (result.output ?? null) : null,
    logs: result.logs,
    error: result.error ?? null,
    httpStatus: result.response?.status ?? null,
    durationMs: result.metrics.wallMs,
    cpuMs: result.metrics.cpuMs,
    memoryBytes: result.metrics.heapBytes,
    apiCalls: result.metrics.apiCalls,
    outputBytes: result.metrics.outputBytes,
    startKind: result.metrics.start,
    createdAt: base.startedAt,
    finishedAt,
  }
}
