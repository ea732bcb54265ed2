import { diffLines } from 'diff'
import type { PageContext } from '../console-context.js'
import { html, type Html } from '../html.js'
import type { VersionSummary } from '../../db/script.repository.js'
import type { Script, ScriptVersion } from '../../domain/script.js'
import type { Translator } from '../i18n/translator.js'
import { csrfField, page } from './layout.js'

interface Row {
  left: { n: number; text: string } | null
  right: { n: number; text: string } | null
  kind: 'same' | 'change'
}

/** Two sources side by side, line by line (jsdiff's line diff; removals paired with the additions that replace them). */
export function sideBySide(before: string, after: string): Row[] {
  const rows: Row[] = []
  let leftN = 0
  let rightN = 0
  const lines = (value: string) => value.replace(/\n$/, '').split('\n')
  const parts = diffLines(before, after)
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]
    if (part === undefined) continue
    if (!part.added && !part.removed) {
      for (const text of lines(part.value)) rows.push({ left: { n: ++leftN, text }, right: { n: ++rightN, text }, kind: 'same' })
      continue
    }
    const removed = part.removed ? lines(part.value) : []
    const next = parts[i + 1]
    const added = part.added ? lines(part.value) : next?.added ? lines(next.value) : []
    if (part.removed && next?.added) i++
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      const l = removed[k]
      const r = added[k]
      rows.push({ left: l === undefined ? null : { n: ++leftN, text: l }, right: r === undefined ? null : { n: ++rightN, text: r }, kind: 'change' })
    }
  }
  return rows
}

export function diffTable(t: Translator, a: ScriptVersion, b: ScriptVersion): Html {
  const rows = sideBySide(a.source, b.source)
  const changed = rows.filter((row) => row.kind === 'change').length
  return html`<p class="muted" id="diff-summary">${t.t('versions.changedLines', { count: changed })}</p>
<table class="diff" aria-label="${t.t('versions.diffOf', { a: a.version, b: b.version })}">
<thead><tr><th class="num"></th><th class="mark"></th><th scope="col">${t.t('versions.version', { version: a.version })}</th><th class="num"></th><th class="mark"></th><th scope="col">${t.t('versions.version', { version: b.version })}</th></tr></thead>
<tbody>${rows.map(
    (row) => html`<tr>${row.left ? html`<td class="num">${row.left.n}</td><td class="mark ${row.kind === 'change' ? 'del' : ''}">${row.kind === 'change' ? html`<span aria-label="${t.t('versions.removed')}">−</span>` : ''}</td><td class="${row.kind === 'change' ? 'del' : ''}">${row.left.text}</td>` : html`<td class="num"></td><td class="mark"></td><td></td>`}${
      row.right ? html`<td class="num">${row.right.n}</td><td class="mark ${row.kind === 'change' ? 'add' : ''}">${row.kind === 'change' ? html`<span aria-label="${t.t('versions.added')}">+</span>` : ''}</td><td class="${row.kind === 'change' ? 'add' : ''}">${row.right.text}</td>` : html`<td class="num"></td><td class="mark"></td><td></td>`
    }</tr>`,
  )}</tbody></table>`
}

export function versionsPage(ctx: PageContext, script: Script, versions: VersionSummary[], diff: { a: ScriptVersion; b: ScriptVersion } | null, notice?: string): Html {
  const { t } = ctx
  const numbers = versions.map((v) => v.version)
  const a = diff?.a.version ?? numbers[1] ?? numbers[0]
  const b = diff?.b.version ?? numbers[0]
  return page(
    ctx,
    t.t('versions.title', { name: script.name }),
    html`${notice ? html`<div class="notice" role="status">${notice}</div>` : ''}
<p><a href="/scripts/${script.id}">${t.t('versions.back')}</a></p>
<table><thead><tr><th scope="col">${t.t('scripts.field.version')}</th><th scope="col">${t.t('versions.created')}</th><th scope="col">${t.t('versions.hash')}</th><th scope="col"><span class="sr-only">${t.t('versions.actions')}</span></th></tr></thead>
<tbody>${versions.map(
      (v) => html`<tr><td>${t.number(v.version)}${v.version === script.version ? html` <span class="badge">${t.t('versions.current')}</span>` : ''}</td><td>${t.dateTime(v.createdAt)}</td><td><code>${v.sourceHash.slice(0, 12)}</code></td><td>${
        ctx.can('scripts.update') && v.version !== script.version ? html`<a href="/scripts/${script.id}/rollback?version=${v.version}">${t.t('versions.rollbackTo', { version: v.version })}</a>` : ''
      }</td></tr>`,
    )}</tbody></table>
<h2>${t.t('versions.compare')}</h2>
<form class="filters" method="get" action="/scripts/${script.id}/versions">
<div><label for="diff-a">${t.t('versions.left')}</label><select id="diff-a" name="a">${numbers.map((n) => html`<option value="${n}" ${n === a ? 'selected' : ''}>${n}</option>`)}</select></div>
<div><label for="diff-b">${t.t('versions.right')}</label><select id="diff-b" name="b">${numbers.map((n) => html`<option value="${n}" ${n === b ? 'selected' : ''}>${n}</option>`)}</select></div>
<button type="submit" class="secondary">${t.t('versions.show')}</button></form>
${diff ? diffTable(t, diff.a, diff.b) : ''}`,
  )
}

export function rollbackPage(ctx: PageContext, script: Script, current: ScriptVersion, target: ScriptVersion): Html {
  const { t } = ctx
  return page(
    ctx,
    t.t('versions.rollbackTitle', { version: target.version }),
    html`<div class="card" role="alertdialog" aria-labelledby="rb-q"><p id="rb-q">${t.t('versions.rollbackQuestion', { name: script.name, version: target.version, next: script.version + 1 })}</p>
<form method="post" action="/scripts/${script.id}/rollback" class="actions">${csrfField(ctx)}<input type="hidden" name="version" value="${target.version}">
<button type="submit" class="danger">${t.t('versions.rollbackConfirm')}</button><a class="button secondary" href="/scripts/${script.id}/versions">${t.t('common.cancel')}</a></form></div>
${diffTable(t, current, target)}`,
  )
}
