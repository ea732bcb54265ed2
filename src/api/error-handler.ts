import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, CONTROL_PLANE_ERRORS, type ErrorCode } from '../errors.js'
import type { MethodTable } from './method-table.js'

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown }
}

/** Fastify's own errors that reach clients, with the stable code isogate answers. */
const FRAMEWORK: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_BAD_URL: 'PATH_INVALID',
  FST_ERR_MAX_PARAM_LENGTH: 'PATH_INVALID',
}

/** Any other client error Fastify raises, by its status. */
const BY_STATUS: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'BODY_TOO_LARGE',
  414: 'PATH_INVALID',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
}

function send(reply: FastifyReply, code: ErrorCode, message?: string, details?: unknown): FastifyReply {
  const body: ErrorBody = { error: { code, message: message ?? CONTROL_PLANE_ERRORS[code].message } }
  if (details !== undefined) body.error.details = details
  return reply.status(CONTROL_PLANE_ERRORS[code].status ?? 500).send(body)
}

/** The one place control-plane errors become HTTP, all in one envelope. Unknown errors are logged and answered 500. */
export function errorHandler(error: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof AppError) {
    if ((error.status ?? 500) >= 500) request.log.error({ err: error }, 'request failed')
    return send(reply, error.code, error.message, error.details)
  }
  const fastifyError = error as FastifyError
  const known = fastifyError.code ? FRAMEWORK[fastifyError.code] : undefined
  if (known === 'VALIDATION_FAILED' && error instanceof SyntaxError) {
    return send(reply, known, `the body is not valid JSON: ${error.message}`, { fields: [{ field: '(body)', message: 'is not valid JSON' }] })
  }
  if (known !== undefined) return send(reply, known, error.message)
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) {
    return send(reply, 'VALIDATION_FAILED', `the body is not valid JSON: ${error.message}`, { fields: [{ field: '(body)', message: 'is not valid JSON' }] })
  }
  const byStatus = typeof fastifyError.statusCode === 'number' ? BY_STATUS[fastifyError.statusCode] : undefined
  if (byStatus !== undefined) return send(reply, byStatus, error.message)
  request.log.error({ err: error }, 'unhandled error')
  return send(reply, 'INTERNAL_ERROR')
}

/** No route for this method and path: 405 with Allow when another method serves the path, else 404. */
export function notFoundHandler(methods: MethodTable) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const allowed = methods.allowed(request.url)
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '))
      return send(reply, 'METHOD_NOT_ALLOWED', `${request.method} is not served here; ${allowed.join(', ')} are`)
    }
    return send(reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?', 1)[0]}`)
  }
}

/**
 * Node's HTTP parser refusals (headers too large, a malformed request) never reach Fastify's
 * error handler: answered here in the same envelope, then the connection is closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  // Not a parse error (a reset, a timeout): nothing to answer.
  if (!socket.writable || error.code === undefined || !error.code.startsWith('HPE_')) {
    socket.destroy()
    return
  }
  const code: ErrorCode = error.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST'
  const status = CONTROL_PLANE_ERRORS[code].status ?? 400
  const body = JSON.stringify({ error: { code, message: CONTROL_PLANE_ERRORS[code].message } })
  const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}
