import type { PageContext } from '../console-context.js'
import { html, type Html } from '../html.js'
import { SCRIPT_STATUSES, SCRIPT_TYPES, type Script } from '../../domain/script.js'
import { badge, page } from './layout.js'

export interface ScriptListFilter {
  type?: string | undefined
  status?: string | undefined
  q?: string | undefined
}

/** What a script is triggered by, in one line. */
export function triggerSummary(script: Script): string {
  if (script.type === 'http' && script.http) return `${script.http.methods.join(', ')} ${script.http.path}`
  if (script.type === 'scheduled' && script.cron) return `${script.cron.expression} (${script.cron.timezone})`
  if (script.type === 'event' && script.events) return script.events.types.join(', ')
  return ''
}

export function scriptListPage(ctx: PageContext, items: Script[], nextCursor: string | null, filter: ScriptListFilter): Html {
  const { t } = ctx
  const query = new URLSearchParams(Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined))
  return page(
    ctx,
    t.t('scripts.title'),
    html`<div class="actions">${ctx.can('scripts.create') ? html`<a class="button" href="/scripts/new">${t.t('scripts.new')}</a>` : ''}</div>
<form class="filters" method="get" action="/scripts" role="search" aria-label="${t.t('scripts.filters')}">
<div><label for="f-q">${t.t('scripts.search')}</label><input id="f-q" name="q" type="search" value="${filter.q ?? ''}"></div>
<div><label for="f-type">${t.t('scripts.field.type')}</label><select id="f-type" name="type"><option value="">${t.t('common.any')}</option>${SCRIPT_TYPES.map((type) => html`<option value="${type}" ${filter.type === type ? 'selected' : ''}>${t.enum('type', type)}</option>`)}</select></div>
<div><label for="f-status">${t.t('scripts.field.status')}</label><select id="f-status" name="status"><option value="">${t.t('common.any')}</option>${SCRIPT_STATUSES.map((status) => html`<option value="${status}" ${filter.status === status ? 'selected' : ''}>${t.enum('status', status)}</option>`)}</select></div>
<button type="submit" class="secondary">${t.t('common.filter')}</button>
</form>
<p class="muted" id="script-count">${t.t('scripts.count', { count: items.length })}</p>
<table>
<caption class="sr-only">${t.t('scripts.title')}</caption>
<thead><tr><th scope="col">${t.t('scripts.field.name')}</th><th scope="col">${t.t('scripts.field.type')}</th><th scope="col">${t.t('scripts.field.status')}</th><th scope="col">${t.t('scripts.field.trigger')}</th><th scope="col">${t.t('scripts.field.version')}</th><th scope="col">${t.t('common.updated')}</th></tr></thead>
<tbody>${items.map(
      (script) => html`<tr><td><a href="/scripts/${script.id}">${script.name}</a></td><td>${t.enum('type', script.type)}</td><td>${badge(t, 'status', script.status)}</td><td><code>${triggerSummary(script)}</code></td><td>${t.number(script.version)}</td><td>${t.dateTime(script.updatedAt)}</td></tr>`,
    )}</tbody>
</table>
${nextCursor ? html`<p class="pager"><a href="/scripts?${query.toString()}${query.size > 0 ? '&' : ''}cursor=${encodeURIComponent(nextCursor)}">${t.t('common.nextPage')}</a></p>` : ''}`,
  )
}
