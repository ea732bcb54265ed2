import type { PageContext } from '../console-context.js'
import { html, type Html } from '../html.js'
import type { ExecutionSummary } from '../../db/execution.repository.js'
import { EXECUTION_STATUSES, TRIGGERS, type ExecutionRecord } from '../../domain/execution.js'
import type { Translator } from '../i18n/translator.js'
import { badge, page } from './layout.js'

export interface ExecutionFilter {
  scriptId?: string | undefined
  status?: string | undefined
  trigger?: string | undefined
}

export function executionTable(t: Translator, items: ExecutionSummary[], showScript: boolean, names: Map<string, string> = new Map()): Html {
  if (items.length === 0) return html`<p class="muted">${t.t('executions.none')}</p>`
  return html`<table>
<thead><tr><th scope="col">${t.t('executions.when')}</th>${showScript ? html`<th scope="col">${t.t('executions.script')}</th>` : ''}<th scope="col">${t.t('executions.trigger')}</th><th scope="col">${t.t('executions.status')}</th><th scope="col">${t.t('executions.duration')}</th><th scope="col">${t.t('executions.cpu')}</th><th scope="col">${t.t('executions.error')}</th></tr></thead>
<tbody>${items.map(
    (e) => html`<tr><td><a href="/executions/${e.id}">${t.dateTime(e.createdAt)}</a></td>${showScript ? html`<td><a href="/scripts/${e.scriptId}">${names.get(e.scriptId) ?? e.scriptId.slice(0, 8)}</a> <span class="muted">v${e.scriptVersion}</span></td>` : ''}<td>${t.enum('trigger', e.trigger)}</td><td>${badge(t, 'execution', e.status)}</td><td>${t.duration(e.durationMs)}</td><td>${t.duration(e.cpuMs)}</td><td>${e.error ? html`<code>${e.error.code}</code>` : ''}</td></tr>`,
  )}</tbody></table>`
}

/** The list's body: the recorded runs, newest first (with `live`, the latest ones and no pages). */
export function executionListBody(t: Translator, items: ExecutionSummary[], nextCursor: string | null, filter: ExecutionFilter, names: Map<string, string>, live: boolean): Html {
  const query = new URLSearchParams(Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined))
  return html`<div id="execution-rows">
${live ? html`<h2>${t.t('executions.recorded')}</h2>` : ''}
<p class="muted">${t.t('executions.count', { count: items.length })}</p>
${executionTable(t, items, true, names)}
${nextCursor && !live ? html`<p class="pager"><a href="/executions?${query.toString()}${query.size > 0 ? '&' : ''}cursor=${encodeURIComponent(nextCursor)}">${t.t('common.nextPage')}</a></p>` : ''}
</div>`
}

/** What the live view's script (console.js) needs to render a run of the tail in this language. */
function liveLabels(t: Translator): Record<string, unknown> {
  return {
    status: { ok: t.enum('execution', 'completed'), error: t.enum('execution', 'failed') },
    trigger: Object.fromEntries(TRIGGERS.map((trigger) => [trigger, t.enum('trigger', trigger)])),
    open: t.t('executions.open'),
    ready: t.t('executions.liveReady'),
    closed: t.t('executions.liveClosed'),
    dropped: t.t('executions.liveDropped'),
  }
}

/**
 * Runs as they happen, from the live tail (`GET /api/v1/tail`, a WebSocket the browser opens
 * with its console session): console.js puts each finished run at the top of the table. Every
 * run shows here, also the successful HTTP runs the records only sample; a run links to its
 * record when it has one for sure (a failure, or a run not served over HTTP).
 */
export function liveRuns(t: Translator, live: LiveTailView): Html {
  return html`<section aria-labelledby="live-title">
<h2 id="live-title">${t.t('executions.liveTitle')}</h2>
<p class="muted">${t.t('executions.liveNote')}</p>
<p id="live-state" role="status" aria-live="polite">${t.t('executions.liveConnecting')}</p>
<table id="live-runs" data-tail="${live.tailUrl}" data-trigger="${live.trigger ?? ''}" data-labels="${JSON.stringify(liveLabels(t))}">
<thead><tr><th scope="col">${t.t('executions.when')}</th><th scope="col">${t.t('executions.script')}</th><th scope="col">${t.t('executions.trigger')}</th><th scope="col">${t.t('executions.status')}</th><th scope="col">${t.t('executions.duration')}</th><th scope="col">${t.t('executions.cpu')}</th><th scope="col">${t.t('executions.error')}</th></tr></thead>
<tbody aria-live="polite"></tbody></table>
</section>`
}

/** The tail the live view opens: the filters it can apply on the server, and the trigger it filters on itself. */
export interface LiveTailView {
  tailUrl: string
  trigger?: string | undefined
}

export function executionListPage(ctx: PageContext, body: Html, filter: ExecutionFilter, live: LiveTailView | null, scripts: Array<{ id: string; name: string }>): Html {
  const { t } = ctx
  return page(
    ctx,
    t.t('executions.title'),
    html`<form class="filters" method="get" action="/executions" aria-label="${t.t('executions.filters')}">
<div><label for="f-script">${t.t('executions.script')}</label><select id="f-script" name="scriptId"><option value="">${t.t('common.any')}</option>${scripts.map((s) => html`<option value="${s.id}" ${filter.scriptId === s.id ? 'selected' : ''}>${s.name}</option>`)}</select></div>
<div><label for="f-status">${t.t('executions.status')}</label><select id="f-status" name="status"><option value="">${t.t('common.any')}</option>${EXECUTION_STATUSES.map((s) => html`<option value="${s}" ${filter.status === s ? 'selected' : ''}>${t.enum('execution', s)}</option>`)}</select></div>
<div><label for="f-trigger">${t.t('executions.trigger')}</label><select id="f-trigger" name="trigger"><option value="">${t.t('common.any')}</option>${TRIGGERS.map((s) => html`<option value="${s}" ${filter.trigger === s ? 'selected' : ''}>${t.enum('trigger', s)}</option>`)}</select></div>
<div class="checks"><label><input type="checkbox" name="live" value="1" ${live !== null ? 'checked' : ''}> ${t.t('executions.live')}</label></div>
<button type="submit" class="secondary">${t.t('common.filter')}</button>
</form>
${live !== null ? liveRuns(t, live) : ''}
${body}`,
  )
}

/** The source line of an error with a caret under its column. */
export function pointerOf(source: string, line: number, column: number): string {
  const text = source.split('\n')[line - 1]
  if (text === undefined) return ''
  const gutter = `${line} | `
  return `${gutter}${text}\n${' '.repeat(gutter.length + Math.max(0, column - 1))}^`
}

export function executionSummaryBox(t: Translator, record: ExecutionRecord): Html {
  return html`<div class="${record.status === 'completed' ? 'notice' : 'error'}" role="status">${badge(t, 'execution', record.status)} ${t.duration(record.durationMs)} · <a href="/executions/${record.id}">${t.t('executions.open')}</a>
${record.error ? html`<br><code>${record.error.code}</code>: ${record.error.message}` : ''}
${record.output !== null && record.output !== undefined ? html`<pre>${JSON.stringify(record.output, null, 2)}</pre>` : ''}</div>`
}

export function executionPage(ctx: PageContext, record: ExecutionRecord, scriptName: string | null, source: string | null): Html {
  const { t } = ctx
  const error = record.error
  const pointer = error?.line && source !== null ? pointerOf(source, error.line, error.column ?? 1) : (error?.pointer ?? '')
  return page(
    ctx,
    t.t('execution.title'),
    html`<div class="card"><dl class="facts">
<dt>${t.t('executions.script')}</dt><dd><a href="/scripts/${record.scriptId}">${scriptName ?? record.scriptId}</a> v${record.scriptVersion}</dd>
<dt>${t.t('executions.status')}</dt><dd>${badge(t, 'execution', record.status)}</dd>
<dt>${t.t('executions.trigger')}</dt><dd>${t.enum('trigger', record.trigger)}</dd>
<dt>${t.t('executions.when')}</dt><dd>${t.dateTime(record.createdAt)}</dd>
<dt>${t.t('executions.duration')}</dt><dd>${t.duration(record.durationMs)}</dd>
<dt>${t.t('executions.cpu')}</dt><dd>${t.duration(record.cpuMs)}</dd>
<dt>${t.t('execution.memory')}</dt><dd>${t.bytes(record.memoryBytes)}</dd>
<dt>${t.t('execution.apiCalls')}</dt><dd>${record.apiCalls === null ? '—' : t.number(record.apiCalls)}</dd>
${record.httpStatus !== null ? html`<dt>${t.t('execution.httpStatus')}</dt><dd>${record.httpStatus}</dd>` : ''}
</dl></div>
${error ? html`<h2>${t.t('executions.error')}</h2><div class="error" role="alert"><strong>${t.enum('code', error.code)}</strong> <code>${error.code}</code><br>${error.message}${error.line ? html` <span class="muted">(${t.t('execution.at', { line: error.line, column: error.column ?? 1 })})</span>` : ''}</div>
${pointer ? html`<pre class="pointer" aria-label="${t.t('execution.sourceLine')}">${pointer}</pre>` : ''}
${error.stack ? html`<details><summary>${t.t('execution.stack')}</summary><pre>${error.stack}</pre></details>` : ''}` : ''}
<h2>${t.t('execution.logs')}</h2>
${record.logs.length === 0 ? html`<p class="muted">${t.t('execution.noLogs')}</p>` : html`<table class="logs"><tbody>${record.logs.map((log) => html`<tr><td class="level">${log.level}</td><td class="time">${t.dateTime(new Date(log.time))}</td><td><pre>${log.message}</pre></td></tr>`)}</tbody></table>`}
<h2>${t.t('execution.input')}</h2><pre>${JSON.stringify(record.input, null, 2) ?? 'null'}</pre>
<h2>${t.t('execution.output')}</h2><pre>${JSON.stringify(record.output, null, 2) ?? 'null'}</pre>`,
  )
}
