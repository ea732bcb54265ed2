/**
 * Errors of the runner. Each has a stable `code`; they cross thread and process boundaries
 * as plain `ErrorData` and are rebuilt on the other side with `fromErrorData`.
 */
export interface ErrorData {
  code: string
  name?: string | undefined
  message: string
  stack?: string | undefined
  line?: number | undefined
  column?: number | undefined
  /** A source excerpt with a caret under the column, for syntax errors. */
  pointer?: string | undefined
  /** RUNNER_CRASHED: only the worker thread died, its runner process lives on. */
  threadOnly?: boolean | undefined
  /** RUNNER_CRASHED: the run had caused no effect outside its isolate, so it may run again. */
  retryable?: boolean | undefined
}

export const RUNNER_ERROR_CODES = {
  SCRIPT_ERROR: 'The script threw an uncaught error',
  SCRIPT_SYNTAX_ERROR: 'The script does not compile',
  SCRIPT_IMPORT_FORBIDDEN: 'The script imports a module; scripts are self-contained',
  SCRIPT_INVALID_EXPORT: 'The script has no usable default export',
  HANDLER_NOT_FOUND: 'The script has no handler for this trigger',
  SCRIPT_INVALID_RESPONSE: 'The fetch handler did not return a valid Response',
  SCRIPT_TIMEOUT: 'The run exceeded its wall-clock limit',
  SCRIPT_CPU_LIMIT: 'The run exceeded its CPU-time limit',
  SCRIPT_MEMORY_LIMIT: 'The isolate exceeded its memory limit',
  SCRIPT_API_CALL_LIMIT: 'The run exceeded its host API call limit',
  SCRIPT_OUTPUT_LIMIT: 'The run exceeded its output limit',
  RUNNER_CRASHED: 'The runner executing this run crashed',
  RUNNER_UNAVAILABLE: 'No runner is available',
  TENANT_QUARANTINED: 'The tenant is quarantined after crashing runners repeatedly',
  HOST_CALL_FAILED: 'A host API failed for a reason the script is not told (the host logs it)',
} as const

export type RunnerErrorCode = keyof typeof RUNNER_ERROR_CODES

export class RunnerError extends Error {
  override readonly name: string = 'RunnerError'
  readonly code: RunnerErrorCode
  readonly data: ErrorData

  constructor(code: RunnerErrorCode, message?: string, data: Partial<ErrorData> = {}, options?: ErrorOptions) {
    super(message ?? RUNNER_ERROR_CODES[code], options)
    this.code = code
    this.data = { ...data, code, message: this.message }
  }
}

export function toErrorData(error: unknown): ErrorData {
  if (error instanceof RunnerError) return error.data
  if (error instanceof Error) return { code: 'SCRIPT_ERROR', name: error.name, message: error.message, stack: error.stack }
  return { code: 'SCRIPT_ERROR', message: String(error) }
}

export function fromErrorData(data: ErrorData): RunnerError {
  const code = (data.code in RUNNER_ERROR_CODES ? data.code : 'SCRIPT_ERROR') as RunnerErrorCode
  return new RunnerError(code, data.message, data)
}
