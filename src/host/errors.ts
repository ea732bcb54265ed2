import { errorCatalogue, IsogateError } from '../../runner/index.js'

/**
 * Errors of the outbound HTTP client (`fetch` / `ctx.http`). They reach the script, not an HTTP
 * client (status null): the host bridge copies them into the isolate as `{name, message, code}`, so each
 * message starts with its code and says what happened without host internals (no stack, no
 * socket details, no configuration). Every code is stable and documented in the README.
 */
export const EGRESS_ERROR_CODES = errorCatalogue({
  EGRESS_DENIED: { status: null, message: 'The outbound request was refused by the egress policy' },
  EGRESS_INVALID_REQUEST: { status: null, message: 'The outbound request is not valid' },
  EGRESS_REQUEST_TOO_LARGE: { status: null, message: 'The outbound request body is over the size limit' },
  EGRESS_RESPONSE_TOO_LARGE: { status: null, message: 'The response is over the size limit' },
  EGRESS_REDIRECT_LIMIT: { status: null, message: 'The request was redirected too many times' },
  EGRESS_TIMEOUT: { status: null, message: 'The outbound request timed out' },
  EGRESS_ABORTED: { status: null, message: 'The outbound request was aborted' },
  EGRESS_FAILED: { status: null, message: 'The outbound request failed' },
})

export type EgressErrorCode = keyof typeof EGRESS_ERROR_CODES

/**
 * A failed outbound request. `message` is `"{code}: {reason}"`, useful on its own inside a script.
 *
 * @example
 * throw new EgressError('EGRESS_DENIED', '127.0.0.1 is loopback')
 * // error.message === 'EGRESS_DENIED: 127.0.0.1 is loopback'
 */
export class EgressError extends IsogateError<EgressErrorCode> {
  override readonly name = 'EgressError'

  constructor(code: EgressErrorCode, reason?: string, options?: ErrorOptions) {
    super(EGRESS_ERROR_CODES, code, `${code}: ${reason ?? EGRESS_ERROR_CODES[code].message}`, undefined, options)
  }

  /** The plain data the host bridge copies into the isolate. */
  toJSON(): { name: string; message: string; code: EgressErrorCode } {
    return { name: this.name, message: this.message, code: this.code }
  }
}
