import type { PageContext } from '../console-context.js'
import { html, type Html } from '../html.js'
import type { ApiKeyRecord } from '../../db/api-key.repository.js'
import type { DeadLetter } from '../../db/event.repository.js'
import type { ExecutionSummary } from '../../db/execution.repository.js'
import { AUDIT_ACTIONS, type AuditEntry } from '../../domain/audit.js'
import { ROLES } from '../../domain/auth.js'
import { SCRIPT_STATUSES } from '../../domain/script.js'
import { executionTable } from './execution-views.js'
import { badge, csrfField, page } from './layout.js'

export function overviewPage(ctx: PageContext, counts: Record<string, number>, failures: ExecutionSummary[], names: Map<string, string>, health: Html): Html {
  const { t } = ctx
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  return page(
    ctx,
    t.t('overview.title', { tenant: ctx.tenant.name }),
    html`<div class="card"><p>${t.t('scripts.count', { count: total })}</p><dl class="facts">${SCRIPT_STATUSES.map((s) => html`<dt>${t.enum('status', s)}</dt><dd data-status="${s}" data-count="${counts[s] ?? 0}">${t.number(counts[s] ?? 0)}</dd>`)}</dl></div>
<h2>${t.t('overview.health')}</h2>${health}
<h2>${t.t('overview.failures')}</h2>${executionTable(t, failures, true, names)}`,
  )
}

export function deadLettersPage(ctx: PageContext, items: DeadLetter[], nextCursor: string | null, names: Map<string, string>, notice?: string): Html {
  const { t } = ctx
  return page(
    ctx,
    t.t('deadLetters.title'),
    html`${notice ? html`<div class="notice" role="status">${notice}</div>` : ''}
<p class="muted">${t.t('deadLetters.count', { count: items.length })}</p>
${items.length === 0 ? '' : html`<table><thead><tr><th scope="col">${t.t('deadLetters.event')}</th><th scope="col">${t.t('executions.script')}</th><th scope="col">${t.t('deadLetters.attempts')}</th><th scope="col">${t.t('deadLetters.lastError')}</th><th scope="col">${t.t('deadLetters.created')}</th><th scope="col">${t.t('versions.actions')}</th></tr></thead><tbody>${items.map((letter) => {
      const last = letter.attempts.at(-1)
      return html`<tr><td><code>${letter.event.type}</code><details><summary>${t.t('deadLetters.payload')}</summary><pre>${JSON.stringify(letter.event.payload, null, 2)}</pre></details></td>
<td><a href="/scripts/${letter.scriptId}">${names.get(letter.scriptId) ?? letter.scriptId.slice(0, 8)}</a></td>
<td>${t.t('deadLetters.attemptCount', { count: letter.attempts.length })}<ol>${letter.attempts.map((a) => html`<li>${t.dateTime(a.finishedAt)}${a.executionId ? html` · <a href="/executions/${a.executionId}">${t.t('executions.open')}</a>` : ''}${a.error ? html` · <code>${a.error.code ?? ''}</code>` : ''}</li>`)}</ol></td>
<td>${last?.error ? html`<code>${last.error.code ?? ''}</code> ${last.error.message}` : ''}</td>
<td>${t.dateTime(letter.createdAt)}</td>
<td>${letter.replayedAt ? html`${t.t('deadLetters.replayedAt', { when: t.dateTime(letter.replayedAt) })}` : ctx.can('scripts.execute') ? html`<form method="post" action="/dead-letters/${letter.id}/replay" class="inline">${csrfField(ctx)}<button type="submit" class="secondary">${t.t('deadLetters.replay')}</button></form>` : ''}</td></tr>`
    })}</tbody></table>`}
${nextCursor ? html`<p class="pager"><a href="/dead-letters?cursor=${encodeURIComponent(nextCursor)}">${t.t('common.nextPage')}</a></p>` : ''}`,
  )
}

export function keysPage(ctx: PageContext, keys: Array<ApiKeyRecord & { revokedAt: Date | null }>, created?: { token: string; name: string }): Html {
  const { t } = ctx
  return page(
    ctx,
    t.t('keys.title'),
    html`${created ? html`<div class="notice" role="status"><p>${t.t('keys.createdOnce', { name: created.name })}</p><p class="token" id="new-token">${created.token}</p></div>` : ''}
<form method="post" action="/keys" class="card filters">${csrfField(ctx)}
<div><label for="key-name">${t.t('keys.name')}</label><input id="key-name" name="name" required maxlength="200"></div>
<div><label for="key-role">${t.t('keys.role')}</label><select id="key-role" name="role">${ROLES.filter((r) => r !== 'superadmin').map((r) => html`<option value="${r}">${t.enum('role', r)}</option>`)}</select></div>
<button type="submit">${t.t('keys.create')}</button></form>
<p class="muted">${t.t('keys.count', { count: keys.length })}</p>
<table><thead><tr><th scope="col">${t.t('keys.name')}</th><th scope="col">${t.t('keys.role')}</th><th scope="col">${t.t('keys.created')}</th><th scope="col">${t.t('keys.state')}</th><th scope="col">${t.t('versions.actions')}</th></tr></thead>
<tbody>${keys.map(
      (key) => html`<tr><td>${key.name}</td><td>${t.enum('role', key.role)}</td><td>${t.dateTime(key.createdAt)}</td><td>${key.revokedAt ? t.t('keys.revokedAt', { when: t.dateTime(key.revokedAt) }) : t.t('keys.live')}</td>
<td>${key.revokedAt || key.id === ctx.principal.keyId ? '' : html`<form method="post" action="/keys/${key.id}/revoke" class="inline" data-confirm="${t.t('keys.revokeConfirm', { name: key.name })}">${csrfField(ctx)}<button type="submit" class="danger">${t.t('keys.revoke')}</button></form>`}</td></tr>`,
    )}</tbody></table>`,
  )
}

export function auditPage(ctx: PageContext, entries: AuditEntry[], nextCursor: string | null, action: string | undefined): Html {
  const { t } = ctx
  return page(
    ctx,
    t.t('audit.title'),
    html`<form class="filters" method="get" action="/audit"><div><label for="f-action">${t.t('audit.action')}</label><select id="f-action" name="action"><option value="">${t.t('common.any')}</option>${AUDIT_ACTIONS.map((a) => html`<option value="${a}" ${a === action ? 'selected' : ''}>${t.enum('audit', a)}</option>`)}</select></div><button type="submit" class="secondary">${t.t('common.filter')}</button></form>
<table><thead><tr><th scope="col">${t.t('audit.when')}</th><th scope="col">${t.t('audit.action')}</th><th scope="col">${t.t('audit.actor')}</th><th scope="col">${t.t('audit.resource')}</th><th scope="col">${t.t('audit.change')}</th></tr></thead>
<tbody>${entries.map(
      (e) => html`<tr><td>${t.dateTime(e.createdAt)}</td><td>${badge(t, 'audit', e.action)}</td><td>${t.enum('role', e.actorRole)} <code>${e.actorKeyId?.slice(0, 8) ?? ''}</code></td><td>${e.resourceType === 'script' ? html`<a href="/scripts/${e.resourceId}">${e.resourceId.slice(0, 8)}</a>` : html`<code>${e.resourceId.slice(0, 8)}</code>`}</td>
<td><details><summary>${t.t('audit.details')}</summary><pre>${JSON.stringify({ before: e.before, after: e.after }, null, 2)}</pre></details></td></tr>`,
    )}</tbody></table>
${nextCursor ? html`<p class="pager"><a href="/audit?${action ? `action=${encodeURIComponent(action)}&` : ''}cursor=${encodeURIComponent(nextCursor)}">${t.t('common.nextPage')}</a></p>` : ''}`,
  )
}
