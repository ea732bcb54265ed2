import { errorCatalogue, IsogateError } from './isogate-error.js'

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
  /** RUNNER_CRASHED, SCRIPT_SIBLING_LIMIT: the run had caused no effect outside its isolate, so it may run again. */
  retryable?: boolean | undefined
}

/**
 * Run failures, `CODE: { status, message }`: the status is what an HTTP client of the run gets
 * (the data plane answers it; the control plane records it). The one place it is mapped.
 */
export const RUNNER_ERROR_CODES = errorCatalogue({
  SCRIPT_ERROR: { status: 500, message: 'The script threw an uncaught error' },
  SCRIPT_SYNTAX_ERROR: { status: 400, message: 'The script does not compile' },
  SCRIPT_IMPORT_FORBIDDEN: { status: 400, message: 'The script imports a module; scripts are self-contained' },
  SCRIPT_INVALID_EXPORT: { status: 500, message: 'The script has no usable default export' },
  HANDLER_NOT_FOUND: { status: 500, message: 'The script has no handler for this trigger' },
  SCRIPT_INVALID_RESPONSE: { status: 500, message: 'The fetch handler did not return a valid Response' },
  SCRIPT_TIMEOUT: { status: 504, message: 'The run exceeded its wall-clock limit' },
  SCRIPT_CPU_LIMIT: { status: 503, message: 'The run exceeded its CPU-time limit' },
  SCRIPT_MEMORY_LIMIT: { status: 503, message: 'The isolate exceeded its memory limit' },
  SCRIPT_API_CALL_LIMIT: { status: 500, message: 'The run exceeded its host API call limit' },
  SCRIPT_OUTPUT_LIMIT: { status: 500, message: 'The run exceeded its output limit' },
  SCRIPT_SIBLING_LIMIT: { status: 503, message: 'Another run of the tenant went over its CPU or wall-clock limit, and this run, which had already caused an effect, ended with their shared isolate' },
  RUNNER_CRASHED: { status: 503, message: 'The runner executing this run crashed' },
  RUNNER_UNAVAILABLE: { status: 503, message: 'No runner is available' },
  TENANT_QUARANTINED: { status: 503, message: 'The tenant is quarantined after crashing runners on its own repeatedly' },
  HOST_CALL_FAILED: { status: null, message: 'A host API failed for a reason the script is not told (the host logs it)' },
})

export type RunnerErrorCode = keyof typeof RUNNER_ERROR_CODES

/** The HTTP status of a run that failed with `code`; 500 for a code no catalogue entry answers. */
export function runFailureStatus(code: string): number {
  return (RUNNER_ERROR_CODES as Record<string, { status: number | null }>)[code]?.status ?? 500
}

export class RunnerError extends IsogateError<RunnerErrorCode> {
  override readonly name: string = 'RunnerError'
  readonly data: ErrorData

  constructor(code: RunnerErrorCode, message?: string, data: Partial<ErrorData> = {}, options?: ErrorOptions) {
    super(RUNNER_ERROR_CODES, code, message, undefined, options)
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
