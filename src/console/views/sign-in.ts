import { html, type Html } from '../html.js'
import type { Translator } from '../i18n/translator.js'
import { errorBox } from './error-page.js'
import { languageSwitcher, shell } from './layout.js'

export function signInPage(t: Translator, options: { csrf: string; next: string; error?: { code: string; message: string } }): Html {
  return shell(
    t,
    t.t('signIn.title'),
    html`<main id="main" class="sign-in">
<div class="card">
<h1>${t.t('signIn.title')}</h1>
<p class="muted">${t.t('signIn.intro')}</p>
${options.error ? errorBox(t, options.error.code, options.error.message) : ''}
<form method="post" action="/sign-in">
<input type="hidden" name="_csrf" value="${options.csrf}">
<input type="hidden" name="next" value="${options.next}">
<div class="row"><label for="token">${t.t('signIn.token')}</label>
<input id="token" name="token" type="password" autocomplete="off" required size="48" autofocus></div>
<button type="submit">${t.t('signIn.submit')}</button>
</form>
</div>
${languageSwitcher(t, '/sign-in')}
</main>`,
  )
}
