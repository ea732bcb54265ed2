/**
 * Errors of the data plane. Each code is stable; `status` is what the client gets.
 * Run failures (SCRIPT_*) come from the runner and are mapped in response-writer.ts.
 */
export const GATEWAY_ERROR_CODES = {
  ROUTE_NOT_FOUND: { status: 404, message: 'No script serves this path' },
  TENANT_NOT_FOUND: { status: 404, message: 'No such tenant' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The script at this path does not serve this method' },
  SCRIPT_AUTH_REQUIRED: { status: 401, message: 'This script requires its runtime secret (Authorization: Bearer or x-runtime-secret)' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is over the size limit' },
  TENANT_BUSY: { status: 429, message: 'The tenant has too many runs in flight and waiting; retry later' },
  OVERLOADED: { status: 503, message: 'The gateway is overloaded; retry later' },
  SCRIPT_UNAVAILABLE: { status: 503, message: 'The script failed repeatedly and is paused for a cool-down' },
  DRAINING: { status: 503, message: 'The gateway is shutting down' },
  UWS_NATIVE_MISSING: { status: 500, message: 'The native uWebSockets.js binary did not load' },
} as const

export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES

export class GatewayError extends Error {
  override readonly name = 'GatewayError'
  readonly code: GatewayErrorCode
  readonly status: number

  constructor(code: GatewayErrorCode, message?: string, options?: ErrorOptions) {
    super(message ?? GATEWAY_ERROR_CODES[code].message, options)
    this.code = code
    this.status = GATEWAY_ERROR_CODES[code].status
  }
}
