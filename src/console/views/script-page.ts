import type { PageContext } from '../console-context.js'
import { html, type Html } from '../html.js'
import type { ExecutionSummary } from '../../db/execution.repository.js'
import { STATUS_TRANSITIONS } from '../../domain/script-status.js'
import type { Script } from '../../domain/script.js'
import type { ScriptSchedule } from '../../triggers/index.js'
import { executionTable } from './execution-views.js'
import { badge, csrfField, page } from './layout.js'
import { triggerSummary } from './script-list.js'

export interface ScriptPageData {
  script: Script
  url: string | null
  schedule: ScriptSchedule | null
  nextRuns: string[]
  recent: ExecutionSummary[]
  health: Html
  notice?: string | undefined
}

export function scriptPage(ctx: PageContext, data: ScriptPageData): Html {
  const { t } = ctx
  const { script } = data
  const limits = Object.entries(script.limits)
  return page(
    ctx,
    script.name,
    html`${data.notice ? html`<div class="notice" role="status">${data.notice}</div>` : ''}
<div class="actions">
${ctx.can('scripts.update') ? html`<a class="button" href="/scripts/${script.id}/edit">${t.t('script.edit')}</a>` : ''}
<a class="button secondary" href="/scripts/${script.id}/versions">${t.t('script.versions')}</a>
<a class="button secondary" href="/executions?scriptId=${script.id}">${t.t('script.executions')}</a>
${ctx.can('scripts.delete') ? html`<form method="post" action="/scripts/${script.id}/delete" class="inline" data-confirm="${t.t('script.deleteConfirm', { name: script.name })}">${csrfField(ctx)}<button class="danger" type="submit">${t.t('script.delete')}</button></form>` : ''}
</div>
<div class="card"><dl class="facts">
<dt>${t.t('scripts.field.type')}</dt><dd>${t.enum('type', script.type)}</dd>
<dt>${t.t('scripts.field.status')}</dt><dd>${badge(t, 'status', script.status)}</dd>
<dt>${t.t('scripts.field.version')}</dt><dd>${t.number(script.version)}</dd>
<dt>${t.t('scripts.field.trigger')}</dt><dd><code>${triggerSummary(script) || '—'}</code></dd>
${data.url ? html`<dt>${t.t('script.url')}</dt><dd><a id="script-url" href="${data.url}" target="_blank" rel="noopener">${data.url}</a></dd>` : ''}
<dt>${t.t('scriptForm.limits')}</dt><dd>${limits.length ? limits.map(([k, v]) => html`<code>${k}=${v}</code> `) : t.t('scriptForm.default')}</dd>
<dt>${t.t('scriptForm.env')}</dt><dd>${Object.keys(script.env).map((k) => html`<code>${k}</code> `)}</dd>
<dt>${t.t('scriptForm.secrets')}</dt><dd>${script.secrets.map((k) => html`<code>${k}</code> `)}</dd>
<dt>${t.t('common.updated')}</dt><dd>${t.dateTime(script.updatedAt)}</dd>
</dl></div>
${ctx.can('scripts.update') && STATUS_TRANSITIONS[script.status].length > 0 ? html`<form method="post" action="/scripts/${script.id}/status" class="card filters">${csrfField(ctx)}
<div><label for="new-status">${t.t('script.changeStatus')}</label><select id="new-status" name="status">${STATUS_TRANSITIONS[script.status].map((s) => html`<option value="${s}">${t.enum('status', s)}</option>`)}</select></div>
<button type="submit" class="secondary">${t.t('script.applyStatus')}</button></form>` : ''}
${data.schedule ? html`<h2>${t.t('script.schedule')}</h2><div class="card"><dl class="facts">
<dt>${t.t('script.lastRun')}</dt><dd>${t.dateTime(data.schedule.lastRunAt, script.cron?.timezone)} ${data.schedule.lastRunStatus ? badge(t, 'execution', data.schedule.lastRunStatus) : ''}</dd>
<dt>${t.t('script.nextRuns')}</dt><dd><ol>${data.nextRuns.map((run) => html`<li>${t.dateTime(run, script.cron?.timezone)}</li>`)}</ol></dd></dl></div>` : ''}
${ctx.can('scripts.execute') ? html`<h2>${t.t('script.runNow')}</h2>
<form class="card" method="post" action="/scripts/${script.id}/run" hx-post="/scripts/${script.id}/run" hx-target="#run-result" hx-swap="innerHTML">${csrfField(ctx)}
<label for="run-input">${t.t('script.runInput')}</label><textarea id="run-input" name="input" rows="4">{}</textarea>
<div class="actions"><button type="submit">${t.t('script.run')}</button></div>
<div id="run-result" aria-live="polite"></div></form>` : ''}
<h2>${t.t('script.health')}</h2>
${data.health}
<h2>${t.t('script.recent')}</h2>
${executionTable(t, data.recent, false)}`,
  )
}
