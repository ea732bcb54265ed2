import { html, type Html } from '../html.js'
import type { Translator } from '../i18n/translator.js'
import { languageSwitcher, shell } from './layout.js'

export function tenantPickerPage(t: Translator, csrf: string, tenants: Array<{ slug: string; name: string }>, current: string | null): Html {
  return shell(
    t,
    t.t('tenants.title'),
    html`<main id="main" class="sign-in"><div class="card">
<h1>${t.t('tenants.title')}</h1>
<p class="muted">${t.t('tenants.count', { count: tenants.length })}</p>
${tenants.length === 0 ? html`<p>${t.t('tenants.none')}</p>` : html`<form method="post" action="/tenants">
<input type="hidden" name="_csrf" value="${csrf}">
<div class="row"><label for="tenant">${t.t('tenants.pick')}</label>
<select id="tenant" name="slug">${tenants.map((tenant) => html`<option value="${tenant.slug}" ${tenant.slug === current ? 'selected' : ''}>${tenant.slug} — ${tenant.name}</option>`)}</select></div>
<button type="submit">${t.t('tenants.open')}</button>
</form>`}
<form method="post" action="/sign-out" class="actions"><input type="hidden" name="_csrf" value="${csrf}"><button class="secondary" type="submit">${t.t('nav.signOut')}</button></form>
</div>${languageSwitcher(t, '/tenants')}</main>`,
    { csrf },
  )
}
