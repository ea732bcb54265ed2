/**
 * The runner's contract: what a run asks for and what it returns, as plain data that survives
 * structured clone (threads) and the framed socket protocol (processes).
 */
import type { ErrorData } from './errors.js'

export type HandlerKind = 'fetch' | 'scheduled' | 'event' | 'run'

export interface RunLimits {
  timeoutMs: number
  cpuMs: number
  memoryMb: number
  apiCalls: number
  outputBytes: number
}

/** One immutable version of a script: what the compile cache is keyed by. */
export interface ProgramRef {
  tenantId: string
  scriptId: string
  version: number
  /** sha256 of the source, hex. */
  sourceHash: string
  source: string
}

export interface HttpRequestData {
  method: string
  url: string
  headers: Array<[string, string]>
  body: string | Uint8Array | null
  params: Record<string, string>
}

export interface HttpResponseData {
  status: number
  headers: Array<[string, string]>
  body: string | ArrayBuffer | null
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  time: number
}

export interface RunMetrics {
  wallMs: number
  cpuMs: number
  heapBytes: number
  apiCalls: number
  outputBytes: number
  /** cold: a new isolate; warm: new program in a live isolate; hot: cached program. */
  start: 'cold' | 'warm' | 'hot'
}

/** Who is running, for host APIs that record causes (events published, data changed). */
export interface RunTrace {
  executionId: string
  /** Depth of the event that triggered the run; null when no event did. */
  eventDepth: number | null
  /** The script running (the runner fills it from the program): events it publishes name it. */
  scriptId?: string | undefined
}

export interface RunTask {
  kind: HandlerKind
  program: ProgramRef
  /** HttpRequestData for fetch; JSON input otherwise. */
  input: unknown
  env: Record<string, string>
  limits: RunLimits
  trace?: RunTrace | undefined
}

export interface RunResult {
  ok: boolean
  response?: HttpResponseData | undefined
  output?: unknown
  error?: ErrorData | undefined
  logs: LogEntry[]
  metrics: RunMetrics
}

export interface CheckResult {
  ok: boolean
  handlers: HandlerKind[]
  error?: ErrorData | undefined
}
