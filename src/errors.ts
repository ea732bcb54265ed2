/**
 * Errors of the control plane and services. Services throw these; the REST error handler is the
 * one place that turns them into HTTP. Every code is stable and documented (see the test that
 * checks ERROR_CODES against the README).
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid' },
  SCRIPT_SYNTAX_ERROR: { status: 400, message: 'The script does not compile' },
  SCRIPT_IMPORT_FORBIDDEN: { status: 400, message: 'Scripts cannot import modules' },
  TENANT_REQUIRED: { status: 400, message: 'Name the tenant with the X-Tenant header' },
  UNAUTHORIZED: { status: 401, message: 'A valid API key is required' },
  FORBIDDEN: { status: 403, message: 'The API key lacks the permission for this action' },
  NOT_FOUND: { status: 404, message: 'No such resource' },
  TENANT_NOT_FOUND: { status: 404, message: 'No such tenant' },
  SCRIPT_NOT_FOUND: { status: 404, message: 'No such script' },
  VERSION_NOT_FOUND: { status: 404, message: 'No such version of this script' },
  EXECUTION_NOT_FOUND: { status: 404, message: 'No such execution' },
  KEY_NOT_FOUND: { status: 404, message: 'No such API key' },
  DEAD_LETTER_NOT_FOUND: { status: 404, message: 'No such dead letter' },
  TENANT_EXISTS: { status: 409, message: 'A tenant with this slug exists' },
  DEAD_LETTER_REPLAYED: { status: 409, message: 'This dead letter was replayed already' },
  SCRIPT_NAME_TAKEN: { status: 409, message: 'A script with this name exists in the tenant' },
  ROUTE_TAKEN: { status: 409, message: 'Another active script serves this method and path' },
  STATUS_TRANSITION_INVALID: { status: 409, message: 'The script cannot move from its status to the one asked' },
  SCRIPT_NOT_RUNNABLE: { status: 409, message: 'The script is disabled or archived and cannot run' },
  SOURCE_TOO_LARGE: { status: 413, message: 'The script source is over the size limit' },
  SECRETS_UNREADABLE: { status: 500, message: "The script's secrets cannot be opened with this gateway's secrets key" },
  CACHE_INVALID: { status: 400, message: 'The cache key, value or TTL is not valid' },
  CACHE_VALUE_TOO_LARGE: { status: 413, message: 'The cached value is over the size limit' },
  DB_COLLECTION_INVALID: { status: 400, message: 'A collection name is a letter, then up to 63 letters, digits, _ or -' },
  DB_QUERY_INVALID: { status: 400, message: 'The document query is not valid' },
  DB_DOCUMENT_INVALID: { status: 400, message: 'A document must be a JSON object' },
  DB_DOCUMENT_TOO_LARGE: { status: 413, message: 'The document is over the size limit' },
  DB_RESULT_TOO_LARGE: { status: 413, message: 'A document is larger than the query result limit' },
  DATABASE_ERROR: { status: 503, message: 'The database is not available' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error' },
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export class AppError extends Error {
  override readonly name: string = 'AppError'
  readonly code: ErrorCode
  readonly status: number
  readonly details: unknown

  constructor(code: ErrorCode, message?: string, details?: unknown, options?: ErrorOptions) {
    super(message ?? ERROR_CODES[code].message, options)
    this.code = code
    this.status = ERROR_CODES[code].status
    this.details = details
  }
}

/** The database could not be reached or refused an operation the app relies on. */
export class DatabaseError extends AppError {
  override readonly name = 'DatabaseError'

  constructor(message?: string, options?: ErrorOptions) {
    super('DATABASE_ERROR', message, undefined, options)
  }
}
