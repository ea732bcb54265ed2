import { errorCatalogue, HTTP_ERROR_CODES, IsogateError, RUNNER_ERROR_CODES, type HttpErrorCode } from '../runner/index.js'

/**
 * Errors of the control plane and services, `CODE: { status, message }`. Services throw these;
 * the REST error handler is the one place that turns them into HTTP. Codes with a null status
 * never reach an HTTP client: host API errors seen inside a script, and execution records'
 * errors (cron, event delivery). Every code is stable and documented (test/error-codes.test.ts).
 */
export const ERROR_CODES = errorCatalogue({
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid' },
  SCRIPT_FORMAT_UNSUPPORTED: { status: 400, message: 'Scripts are ES modules (export default { fetch }), not CommonJS or service-worker scripts' },
  SCRIPT_HANDLER_MISSING: { status: 400, message: "The script's default export lacks the handler its type runs" },
  TENANT_REQUIRED: { status: 400, message: 'Name the tenant with the X-Tenant header' },
  EVENT_TYPE_RESERVED: { status: 400, message: 'db.*, script.*, execution.* and isogate.* events are published by isogate only' },
  UNAUTHORIZED: { status: 401, message: 'A valid API key is required' },
  FORBIDDEN: { status: 403, message: 'The API key lacks the permission for this action' },
  CSRF_INVALID: { status: 403, message: "The web console's form token is missing or does not match the session" },
  ORIGIN_REFUSED: { status: 403, message: "A console session is accepted only from the console's own origin" },
  NOT_FOUND: { status: 404, message: 'No such resource' },
  SCRIPT_NOT_FOUND: { status: 404, message: 'No such script' },
  VERSION_NOT_FOUND: { status: 404, message: 'No such version of this script' },
  EXECUTION_NOT_FOUND: { status: 404, message: 'No such execution' },
  KEY_NOT_FOUND: { status: 404, message: 'No such API key' },
  DEAD_LETTER_NOT_FOUND: { status: 404, message: 'No such dead letter' },
  TENANT_EXISTS: { status: 409, message: 'A tenant with this slug exists' },
  LAST_SUPERADMIN_KEY: { status: 409, message: 'This is the last live superadmin key; create another before revoking it' },
  DEAD_LETTER_REPLAYED: { status: 409, message: 'This dead letter was replayed already' },
  SCRIPT_NAME_TAKEN: { status: 409, message: 'A script with this name exists in the tenant' },
  ROUTE_TAKEN: { status: 409, message: 'Another active script serves this method and path' },
  STATUS_TRANSITION_INVALID: { status: 409, message: 'The script cannot move from its status to the one asked' },
  SCRIPT_NOT_RUNNABLE: { status: 409, message: 'The script is disabled or archived and cannot run' },
  EXECUTE_BUSY: { status: 429, message: 'Too many ad-hoc runs in flight on this connection' },
  SOURCE_TOO_LARGE: { status: 413, message: 'The script source is over the size limit' },
  SECRETS_UNREADABLE: { status: 500, message: "The script's secrets cannot be opened with this gateway's secrets key" },
  CACHE_INVALID: { status: 400, message: 'The cache key, value or TTL is not valid' },
  CACHE_VALUE_TOO_LARGE: { status: 413, message: 'The cached value is over the size limit' },
  DB_COLLECTION_INVALID: { status: 400, message: 'A collection name is a letter, then up to 63 letters, digits, _ or -' },
  DB_QUERY_INVALID: { status: 400, message: 'The document query is not valid' },
  DB_DOCUMENT_INVALID: { status: 400, message: 'A document must be a JSON object' },
  DB_DOCUMENT_TOO_LARGE: { status: 413, message: 'The document is over the size limit' },
  DB_RESULT_TOO_LARGE: { status: 413, message: 'A document is larger than the query result limit' },
  QUOTA_EXCEEDED: { status: 400, message: "The script asks for more than its tenant's quota allows" },
  SCRIPT_QUOTA_REACHED: { status: 409, message: 'The tenant has as many scripts as its quota allows' },
  QUOTA_BELOW_USAGE: { status: 409, message: "The quota is below what the tenant's scripts use now" },
  DB_QUOTA_EXCEEDED: { status: 413, message: "The write would take the tenant's ctx.db over its quota" },
  DATABASE_ERROR: { status: 503, message: 'The database is not available' },
  CRON_OVERLAP: { status: null, message: 'A cron slot was skipped: the previous fire of the script was still running' },
  CRON_SLOTS_MISSED: { status: null, message: 'Cron slots were missed while no process ran' },
  CRON_FIRE_ABANDONED: { status: null, message: 'The process running a cron fire stopped before it finished' },
  EVENT_DELIVERY_ABANDONED: { status: null, message: 'The process delivering an event stopped mid-attempt' },
  CLIENT_ABORTED: { status: null, message: 'The client closed the connection before the answer was written' },
})

/**
 * Every code the control plane throws and answers: its own, the HTTP ones both front ends share,
 * and the runner's compile failures (a deploy whose source does not compile).
 */
export const CONTROL_PLANE_ERRORS = {
  ...HTTP_ERROR_CODES,
  SCRIPT_SYNTAX_ERROR: RUNNER_ERROR_CODES.SCRIPT_SYNTAX_ERROR,
  SCRIPT_IMPORT_FORBIDDEN: RUNNER_ERROR_CODES.SCRIPT_IMPORT_FORBIDDEN,
  ...ERROR_CODES,
} as const

export type ErrorCode = keyof typeof CONTROL_PLANE_ERRORS

/** `details` has one shape: `fields` names what was wrong, any other key adds to it. */
export interface ErrorDetails {
  fields?: Array<{ field: string; message: string }>
  [key: string]: unknown
}

export class AppError extends IsogateError<ErrorCode> {
  override readonly name: string = 'AppError'

  constructor(code: ErrorCode, message?: string, details?: unknown, options?: ErrorOptions) {
    super(CONTROL_PLANE_ERRORS, code, message, details, options)
  }
}

/** The database could not be reached or refused an operation the app relies on. */
export class DatabaseError extends AppError {
  override readonly name = 'DatabaseError'

  constructor(message?: string, options?: ErrorOptions) {
    super('DATABASE_ERROR', message, undefined, options)
  }
}
