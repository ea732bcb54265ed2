import type { FastifyInstance } from 'fastify'

/** A submitted form: `URLSearchParams` keeps repeated fields (checkboxes) in order. */
export type Form = URLSearchParams

/** Parses urlencoded bodies in the console's scope only; the REST API stays JSON-only. */
export function acceptForms(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string))
  })
}

export function formOf(body: unknown): Form {
  return body instanceof URLSearchParams ? body : new URLSearchParams()
}

/** A trimmed field, or undefined when absent or blank. */
export function field(form: Form, name: string): string | undefined {
  const value = form.get(name)?.trim()
  return value === undefined || value === '' ? undefined : value
}

/** `KEY=value` lines into an object; blank lines and lines without `=` are skipped. */
export function keyValueLines(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of (text ?? '').split(/\r?\n/)) {
    const index = line.indexOf('=')
    if (index <= 0) continue
    out[line.slice(0, index).trim()] = line.slice(index + 1)
  }
  return out
}
