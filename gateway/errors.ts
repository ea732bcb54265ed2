import { errorCatalogue, HTTP_ERROR_CODES, IsogateError, type HttpErrorCode } from '../runner/isogate-error.js'

/**
 * Errors of the data plane: `CODE: { status, message }`, the status is what the client gets.
 * The HTTP refusals both front ends share (TENANT_NOT_FOUND, BODY_TOO_LARGE, 431, 501, ...) are
 * HTTP_ERROR_CODES; run failures (SCRIPT_*, RUNNER_*) are RUNNER_ERROR_CODES, with their status.
 */
export const GATEWAY_ERROR_CODES = errorCatalogue({
  ROUTE_NOT_FOUND: { status: 404, message: 'No script serves this path' },
  SCRIPT_AUTH_REQUIRED: { status: 401, message: 'This script requires its runtime secret (Authorization: Bearer or x-runtime-secret)' },
  TENANT_RATE_LIMITED: { status: 429, message: "The tenant is over its request rate; retry later" },
  TENANT_BUSY: { status: 429, message: 'The tenant has too many runs in flight and waiting; retry later' },
  OVERLOADED: { status: 503, message: 'The gateway is overloaded; retry later' },
  SCRIPT_UNAVAILABLE: { status: 503, message: 'The script failed repeatedly and is paused for a cool-down' },
  DRAINING: { status: 503, message: 'The gateway is shutting down' },
  UWS_NATIVE_MISSING: { status: 500, message: 'The native uWebSockets.js binary did not load' },
})

/** Every code the data plane answers with: its own and the shared HTTP ones. */
export const DATA_PLANE_ERRORS = { ...HTTP_ERROR_CODES, ...GATEWAY_ERROR_CODES } as const

export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES | HttpErrorCode

/**
 * Refusals on a script's route, answered before any run: reported to `onRun` as failed runs (the
 * tenant sees them), though no script ran.
 */
export const ROUTE_REFUSALS: ReadonlySet<string> = new Set<GatewayErrorCode>(['TENANT_BUSY', 'OVERLOADED', 'SCRIPT_UNAVAILABLE'])

export class GatewayError extends IsogateError<GatewayErrorCode> {
  override readonly name = 'GatewayError'

  constructor(code: GatewayErrorCode, message?: string, options?: ErrorOptions) {
    super(DATA_PLANE_ERRORS, code, message, undefined, options)
  }
}
