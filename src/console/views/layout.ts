import type { PageContext } from '../console-context.js'
import { html, type Html } from '../html.js'
import { LOCALES, type Translator } from '../i18n/translator.js'

const NAV = [
  { href: '/', key: 'nav.overview' },
  { href: '/scripts', key: 'nav.scripts' },
  { href: '/executions', key: 'nav.executions' },
  { href: '/dead-letters', key: 'nav.deadLetters' },
] as const

const ADMIN_NAV = [
  { href: '/keys', key: 'nav.keys' },
  { href: '/audit', key: 'nav.audit' },
] as const

/** The language switcher: links that set the sticky language cookie and come back here. */
export function languageSwitcher(t: Translator, back: string): Html {
  return html`<nav class="langs" aria-label="${t.t('nav.language')}">${LOCALES.map(
    (locale) => html`<a href="/language/${locale}?back=${encodeURIComponent(back)}" lang="${locale}" hreflang="${locale}" ${locale === t.locale ? html`aria-current="true"` : ''}>${t.t(`language.${locale}`)}</a>`,
  )}</nav>`
}

/** A bare page (sign-in, errors): no navigation. */
export function shell(t: Translator, title: string, body: Html, options: { csrf?: string; editor?: boolean; back?: string } = {}): Html {
  return html`<!doctype html>
<html lang="${t.tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}'>
<title>${title} · isogate</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/htmx.min.js" defer></script>
<script src="/assets/console.js" defer></script>
${options.editor ? html`<script src="/assets/editor.js" defer></script>` : ''}
</head>
<body ${options.csrf ? html`hx-headers='${JSON.stringify({ 'x-csrf-token': options.csrf })}'` : ''}>
${body}
</body>
</html>`
}

/** A signed-in page: navigation, tenant, language, sign-out, then the content in <main>. */
export function page(ctx: PageContext, title: string, content: Html, options: { editor?: boolean } = {}): Html {
  const { t } = ctx
  const current = ctx.path.split('?')[0] ?? '/'
  const isCurrent = (href: string) => (href === '/' ? current === '/' : current === href || current.startsWith(`${href}/`))
  const links = [...NAV, ...(ctx.isAdmin ? ADMIN_NAV : [])]
  return shell(
    t,
    title,
    html`<a class="skip" href="#main">${t.t('nav.skip')}</a>
<header class="top">
<a class="brand" href="/">isogate</a>
<nav aria-label="${t.t('nav.main')}"><ul>${links.map((link) => html`<li><a href="${link.href}" ${isCurrent(link.href) ? html`aria-current="page"` : ''}>${t.t(link.key)}</a></li>`)}</ul></nav>
<div class="who">
<span>${t.t('nav.tenant')}: <strong>${ctx.tenant.slug}</strong>${ctx.principal.role === 'superadmin' ? html` (<a href="/tenants">${t.t('nav.switchTenant')}</a>)` : ''}</span>
<span>${ctx.session.keyName} · ${t.enum('role', ctx.principal.role)}</span>
${languageSwitcher(t, ctx.path)}
<form method="post" action="/sign-out" class="inline"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button type="submit">${t.t('nav.signOut')}</button></form>
</div>
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${content}
</main>`,
    { csrf: ctx.csrf, editor: options.editor ?? false },
  )
}

/** A status-like value as a badge with its translated label (text, not colour alone). */
export function badge(t: Translator, family: string, value: string): Html {
  return html`<span class="badge s-${value}">${t.enum(family, value)}</span>`
}

/** Hidden CSRF field of every form. */
export function csrfField(ctx: { csrf: string }): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`
}
