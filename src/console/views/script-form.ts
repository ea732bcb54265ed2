import type { PageContext } from '../console-context.js'
import { html, type Html } from '../html.js'
import { HTTP_METHODS, SCRIPT_STATUSES, SCRIPT_TYPES, type Script } from '../../domain/script.js'
import { errorBox } from './error-page.js'
import { csrfField, page } from './layout.js'

/** What the form shows: a saved script, or what was submitted (kept when the save failed). */
export interface ScriptFormValues {
  name: string
  type: Script['type']
  status: Script['status']
  source: string
  httpPath: string
  methods: string[]
  cronExpression: string
  cronTimezone: string
  eventTypes: string
  limits: Record<string, string>
  env: string
  secretNames: string[]
}

export interface FormError {
  code: string
  message: string
  line?: number | undefined
  column?: number | undefined
  fields?: Array<{ field: string; message: string }> | undefined
}

export const NEW_SCRIPT_SOURCE = `export default {
  async fetch(request, env, ctx) {
    ctx.logger.info('hello from', request.url)
    return Response.json({ hello: 'world' })
  },
  async run(input, env, ctx) {
    return { echoed: input }
  },
}
`

export function formValuesOf(script: Script & { source: string }): ScriptFormValues {
  return {
    name: script.name,
    type: script.type,
    status: script.status,
    source: script.source,
    httpPath: script.http?.path ?? '',
    methods: script.http?.methods ?? ['GET'],
    cronExpression: script.cron?.expression ?? '',
    cronTimezone: script.cron?.timezone ?? 'UTC',
    eventTypes: script.events?.types.join(', ') ?? '',
    limits: Object.fromEntries(Object.entries(script.limits).map(([key, value]) => [key, String(value)])),
    env: Object.entries(script.env)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
    secretNames: script.secrets,
  }
}

export const EMPTY_FORM: ScriptFormValues = {
  name: '',
  type: 'http',
  status: 'active',
  source: NEW_SCRIPT_SOURCE,
  httpPath: '/hello',
  methods: ['GET'],
  cronExpression: '*/5 * * * *',
  cronTimezone: 'UTC',
  eventTypes: '',
  limits: {},
  env: '',
  secretNames: [],
}

const LIMITS = ['timeoutMs', 'cpuMs', 'memoryMb', 'apiCalls', 'outputBytes'] as const

/** Create (`scriptId` undefined) or edit a script. */
export function scriptFormPage(ctx: PageContext, values: ScriptFormValues, options: { scriptId?: string; error?: FormError | undefined }): Html {
  const { t } = ctx
  const editing = options.scriptId !== undefined
  const error = options.error
  const envNames = [
    ...values.env
      .split('\n')
      .map((line) => line.split('=')[0]?.trim() ?? '')
      .filter(Boolean),
    ...values.secretNames,
  ]
  const zones = Intl.supportedValuesOf('timeZone')
  return page(
    ctx,
    editing ? t.t('scriptForm.editTitle', { name: values.name }) : t.t('scriptForm.newTitle'),
    html`${error ? errorBox(t, error.code, error.message) : ''}
${error?.fields?.length ? html`<ul class="error" aria-label="${t.t('scriptForm.fieldErrors')}">${error.fields.map((f) => html`<li><code>${f.field}</code>: ${f.message}</li>`)}</ul>` : ''}
<form method="post" action="${editing ? `/scripts/${options.scriptId}` : '/scripts'}" id="script-form">
${csrfField(ctx)}
<fieldset><legend>${t.t('scriptForm.basics')}</legend>
<div class="grid">
<div><label for="name">${t.t('scripts.field.name')}</label><input id="name" name="name" value="${values.name}" required maxlength="100"></div>
<div><label for="type">${t.t('scripts.field.type')}</label><select id="type" name="type" data-type-select>${SCRIPT_TYPES.map((type) => html`<option value="${type}" ${values.type === type ? 'selected' : ''}>${t.enum('type', type)}</option>`)}</select></div>
${editing ? '' : html`<div><label for="status">${t.t('scripts.field.status')}</label><select id="status" name="status">${SCRIPT_STATUSES.filter((s) => s === 'active' || s === 'draft').map((status) => html`<option value="${status}" ${values.status === status ? 'selected' : ''}>${t.enum('status', status)}</option>`)}</select></div>`}
</div></fieldset>
<fieldset data-for-type="http"><legend>${t.t('scriptForm.http')}</legend>
<div class="grid"><div><label for="http-path">${t.t('scriptForm.path')}</label><input id="http-path" name="http.path" value="${values.httpPath}" placeholder="/orders/:id"></div></div>
<div class="checks" role="group" aria-label="${t.t('scriptForm.methods')}"><span class="muted">${t.t('scriptForm.methods')}:</span>${HTTP_METHODS.map((method) => html`<label><input type="checkbox" name="http.methods" value="${method}" ${values.methods.includes(method) ? 'checked' : ''}>${method}</label>`)}</div>
</fieldset>
<fieldset data-for-type="scheduled"><legend>${t.t('scriptForm.schedule')}</legend>
<div class="grid">
<div><label for="cron-expression">${t.t('scriptForm.cron')}</label><input id="cron-expression" name="cron.expression" value="${values.cronExpression}" placeholder="*/5 * * * *"
 hx-get="/cron/preview" hx-trigger="input changed delay:300ms, load" hx-include="#cron-expression, #cron-timezone" hx-target="#cron-preview" aria-describedby="cron-preview"></div>
<div><label for="cron-timezone">${t.t('scriptForm.timezone')}</label><input id="cron-timezone" name="cron.timezone" value="${values.cronTimezone}" list="zones"
 hx-get="/cron/preview" hx-trigger="input changed delay:300ms" hx-include="#cron-expression, #cron-timezone" hx-target="#cron-preview"><datalist id="zones">${zones.map((zone) => html`<option value="${zone}">`)}</datalist></div>
</div>
<div id="cron-preview" aria-live="polite"></div>
</fieldset>
<fieldset data-for-type="event"><legend>${t.t('scriptForm.events')}</legend>
<div><label for="event-types">${t.t('scriptForm.eventTypes')}</label><input id="event-types" name="events.types" value="${values.eventTypes}" placeholder="order.created, order.paid" size="60"></div>
</fieldset>
<fieldset><legend>${t.t('scriptForm.source')}</legend>
<p id="check-status" class="muted" aria-live="polite" data-ok="${t.t('scriptForm.compiles')}">${t.t('scriptForm.checkHint')}</p>
<textarea id="source" name="source" rows="22" spellcheck="false" data-editor data-label="${t.t('scriptForm.source')}" data-status="check-status" data-check-url="/scripts/check" data-csrf="${ctx.csrf}" data-env="${envNames.join(',')}"
${error?.line ? html` data-error-line="${error.line}" data-error-column="${error.column ?? 1}" data-error-message="${error.message}" data-error-code="${error.code}"` : ''}>${values.source}</textarea>
</fieldset>
<fieldset><legend>${t.t('scriptForm.limits')}</legend><div class="grid">${LIMITS.map(
      (limit) => html`<div><label for="limit-${limit}">${t.t(`scriptForm.limit.${limit}`)}</label><input id="limit-${limit}" name="limits.${limit}" type="number" min="0" value="${values.limits[limit] ?? ''}" placeholder="${t.t('scriptForm.default')}"></div>`,
    )}</div></fieldset>
<fieldset><legend>${t.t('scriptForm.env')}</legend>
<label for="env">${t.t('scriptForm.envHint')}</label><textarea id="env" name="env" rows="4">${values.env}</textarea>
</fieldset>
<fieldset><legend>${t.t('scriptForm.secrets')}</legend>
<p class="muted">${t.t('scriptForm.secretsHint')}</p>
${values.secretNames.length ? html`<ul>${values.secretNames.map((name) => html`<li><code>${name}</code> <label class="inline"><input type="checkbox" name="secrets.delete" value="${name}"> ${t.t('scriptForm.deleteSecret')}</label></li>`)}</ul>` : ''}
<label for="secrets">${t.t('scriptForm.secretsNew')}</label><textarea id="secrets" name="secrets" rows="3" autocomplete="off"></textarea>
</fieldset>
<div class="actions"><button type="submit">${editing ? t.t('scriptForm.save') : t.t('scriptForm.create')}</button>
<a class="button secondary" href="${editing ? `/scripts/${options.scriptId}` : '/scripts'}">${t.t('common.cancel')}</a></div>
</form>`,
    { editor: true },
  )
}
