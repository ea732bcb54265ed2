import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown }
}

/** Fastify's own errors that reach clients, with the stable code isogate answers. */
const FRAMEWORK: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'VALIDATION_FAILED' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'VALIDATION_FAILED' },
  FST_ERR_VALIDATION: { status: 400, code: 'VALIDATION_FAILED' },
}

/** The one place control-plane errors become HTTP. Unknown errors are logged and answered 500. */
export function errorHandler(error: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof AppError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } }
    if (error.details !== undefined) body.error.details = error.details
    const status = error.status ?? 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    return reply.status(status).send(body)
  }
  const fastifyError = error as FastifyError
  const known = fastifyError.code ? FRAMEWORK[fastifyError.code] : undefined
  if (known) return reply.status(known.status).send({ error: { code: known.code, message: error.message } })
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) {
    return reply.status(400).send({ error: { code: 'VALIDATION_FAILED', message: `the body is not valid JSON: ${error.message}` } })
  }
  request.log.error({ err: error }, 'unhandled error')
  return reply.status(500).send({ error: { code: 'INTERNAL_ERROR', message: 'Internal error' } })
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } })
}
