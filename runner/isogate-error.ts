/**
 * The one error base class of isogate, and the catalogue format every part uses.
 *
 * Each part declares its codes once, in its own errors.ts, as `CODE: { status, message }`: the
 * HTTP status a client gets when the error reaches HTTP (null when it never does: boot, inside a
 * script, in an execution record) and the default message. A code is declared in exactly one
 * catalogue and never reused; test/error-codes.test.ts checks that, and that the README's error
 * table lists every code with its status. (fastify `lib/errors.js`, undici `lib/core/errors.js`)
 *
 * This file sits at the root of runner/, the part every other part may import, and imports
 * nothing: config/, gateway/, runner/ and src/ all build on it.
 */

/** One code of a catalogue. */
export interface ErrorEntry {
  /** The HTTP status where the error reaches an HTTP client; null where it never does. */
  readonly status: number | null
  /** The default message, said to whoever sees the error. */
  readonly message: string
}

export type ErrorCatalogue = Readonly<Record<string, ErrorEntry>>

/**
 * Declares a part's catalogue: keeps its literal keys for the code type, and freezes it.
 *
 * @example
 * export const GATEWAY_ERROR_CODES = errorCatalogue({
 *   ROUTE_NOT_FOUND: { status: 404, message: 'No script serves this path' },
 * })
 */
export function errorCatalogue<const C extends Record<string, ErrorEntry>>(entries: C): Readonly<C> {
  for (const entry of Object.values(entries)) Object.freeze(entry)
  return Object.freeze(entries)
}

/**
 * Errors both HTTP front ends answer (the uWS data plane and the Fastify control plane): the
 * protocol's own refusals and the unknown failure. Declared here once so neither part redeclares
 * them.
 */
export const HTTP_ERROR_CODES = errorCatalogue({
  BAD_REQUEST: { status: 400, message: 'The request is not valid HTTP' },
  PATH_INVALID: { status: 400, message: 'The request path is not valid' },
  TENANT_NOT_FOUND: { status: 404, message: 'No such tenant' },
  TENANT_SUSPENDED: { status: 403, message: 'The tenant is suspended: its scripts do not run and its API is read-only' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This path does not serve this method' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is over the size limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The body is not JSON' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request has too many headers or too large ones' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error' },
  METHOD_NOT_IMPLEMENTED: { status: 501, message: 'This method is not implemented' },
})

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES

/**
 * The base of every isogate error: a stable `code`, the `status` its catalogue gives it, optional
 * `details` (plain data, safe to answer), and `cause` when it wraps. Errors cross thread and
 * process boundaries as plain data and are rebuilt on the other side (structured clone drops a
 * class), so a subclass adds no state that plain data cannot carry.
 */
export class IsogateError<Code extends string = string> extends Error {
  override readonly name: string = 'IsogateError'
  readonly code: Code
  readonly status: number | null
  readonly details: unknown

  constructor(catalogue: ErrorCatalogue, code: Code, message?: string, details?: unknown, options?: ErrorOptions) {
    const entry = catalogue[code]
    if (entry === undefined) throw new TypeError(`${code} is not in this error catalogue`)
    super(message ?? entry.message, options)
    this.code = code
    this.status = entry.status
    this.details = details
  }
}
