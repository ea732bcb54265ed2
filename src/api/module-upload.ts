import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'

/** Media types of a module upload: the body is the script's source, as a bundler wrote it. */
export const MODULE_TYPES = ['application/javascript', 'text/javascript'] as const

/** Query parameters a module upload may carry, for the metadata a JSON body would. */
const QUERY_FIELDS = new Set(['name', 'type', 'status', 'path', 'methods', 'authSecret', 'cron', 'timezone', 'events'])

/**
 * Accepts `application/javascript` and `text/javascript` bodies in this plugin's routes, as text
 * up to `bodyLimit` bytes (the bundle limit plus room for an inline source map).
 */
export function acceptModules(app: FastifyInstance, bodyLimit: number): void {
  app.addContentTypeParser([...MODULE_TYPES], { parseAs: 'string', bodyLimit }, (_request, body, done) => done(null, body))
}

/** Whether the request's body is a module upload. */
export function isModuleUpload(request: FastifyRequest): boolean {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  return typeof request.body === 'string' && (MODULE_TYPES as readonly string[]).includes(type ?? '')
}

/**
 * The JSON-shaped body of a module upload: the source from the body, the rest from the query
 * (`?name=hello&path=/x&methods=GET,POST`), so the service checks it as it checks JSON.
 */
export function moduleBody(request: FastifyRequest): Record<string, unknown> {
  const query = (request.query ?? {}) as Record<string, unknown>
  const unknown = Object.keys(query).filter((key) => !QUERY_FIELDS.has(key))
  if (unknown.length > 0) {
    throw new AppError('VALIDATION_FAILED', `${unknown[0]}: not a parameter of a module upload`, {
      fields: unknown.map((field) => ({ field, message: `a module upload takes ${[...QUERY_FIELDS].join(', ')}` })),
    })
  }
  const text = (name: string): string | undefined => (typeof query[name] === 'string' ? (query[name] as string) : undefined)
  const list = (name: string): string[] | undefined => text(name)?.split(',').map((part) => part.trim()).filter((part) => part !== '')
  const body: Record<string, unknown> = { source: request.body }
  for (const name of ['name', 'type', 'status'] as const) if (text(name) !== undefined) body[name] = text(name)
  if (text('path') !== undefined || text('methods') !== undefined || text('authSecret') !== undefined) {
    body.http = { path: text('path'), ...(list('methods') === undefined ? {} : { methods: list('methods') }), ...(text('authSecret') === undefined ? {} : { authSecret: text('authSecret') }) }
  }
  if (text('cron') !== undefined) body.cron = { expression: text('cron'), ...(text('timezone') === undefined ? {} : { timezone: text('timezone') }) }
  if (list('events') !== undefined) body.events = { types: list('events') }
  return body
}
