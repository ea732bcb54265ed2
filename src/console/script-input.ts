import type { Script } from '../domain/script.js'
import { AppError } from '../errors.js'
import { field, keyValueLines, type Form } from './form.js'
import type { FormError, ScriptFormValues } from './views/script-form.js'

const LIMITS = ['timeoutMs', 'cpuMs', 'memoryMb', 'apiCalls', 'outputBytes'] as const

/** The form as it was submitted, to show again when a save fails. */
export function submittedValues(form: Form, secretNames: string[] = []): ScriptFormValues {
  return {
    name: form.get('name') ?? '',
    type: (form.get('type') ?? 'http') as Script['type'],
    status: (form.get('status') ?? 'active') as Script['status'],
    source: form.get('source') ?? '',
    httpPath: form.get('http.path') ?? '',
    methods: form.getAll('http.methods'),
    cronExpression: form.get('cron.expression') ?? '',
    cronTimezone: form.get('cron.timezone') ?? 'UTC',
    eventTypes: form.get('events.types') ?? '',
    limits: Object.fromEntries(LIMITS.map((limit) => [limit, form.get(`limits.${limit}`) ?? ''])),
    env: form.get('env') ?? '',
    secretNames,
  }
}

/**
 * The REST body a form stands for (the same shape `POST /api/v1/scripts` takes), so the service
 * validates it exactly as it does the API's. Only the chosen type's trigger fields are sent.
 */
export function scriptBody(form: Form, mode: 'create' | 'update'): Record<string, unknown> {
  const type = field(form, 'type') ?? 'http'
  const body: Record<string, unknown> = { name: form.get('name') ?? '', type, source: form.get('source') ?? '' }
  if (mode === 'create') body.status = field(form, 'status') ?? 'active'
  if (type === 'http') {
    const methods = form.getAll('http.methods')
    body.http = { path: field(form, 'http.path') ?? '', methods: methods.length > 0 ? methods : ['GET'] }
  }
  if (type === 'scheduled') body.cron = { expression: field(form, 'cron.expression') ?? '', timezone: field(form, 'cron.timezone') ?? 'UTC' }
  if (type === 'event') {
    body.events = {
      types: (form.get('events.types') ?? '')
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    }
  }
  const limits: Record<string, number> = {}
  for (const limit of LIMITS) {
    const text = field(form, `limits.${limit}`)
    if (text === undefined) continue
    const value = Number(text)
    if (!Number.isFinite(value)) throw new AppError('VALIDATION_FAILED', `limits.${limit}: must be a number`, { fields: [{ field: `limits.${limit}`, message: 'must be a number' }] })
    limits[limit] = value
  }
  body.limits = limits
  body.env = keyValueLines(form.get('env') ?? '')
  // Secrets are write-only: new values are sent, ticked names deleted, the rest left alone.
  const secrets: Record<string, string | null> = keyValueLines(form.get('secrets') ?? '')
  if (mode === 'update') for (const name of form.getAll('secrets.delete')) secrets[name] = null
  if (mode === 'create' || Object.keys(secrets).length > 0) body.secrets = secrets
  return body
}

/** An AppError as the form shows it: line and column of a syntax error, the fields of a validation error. */
export function formErrorOf(error: AppError): FormError {
  const details = (error.details ?? {}) as { line?: number; column?: number; fields?: Array<{ field: string; message: string }> }
  return { code: error.code, message: error.message, line: details.line, column: details.column, fields: details.fields }
}
