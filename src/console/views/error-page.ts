import { html, type Html } from '../html.js'
import type { Translator } from '../i18n/translator.js'
import { shell } from './layout.js'

/** An error as a page: the translated code, the server's message, a way back. */
export function errorPage(t: Translator, code: string, message: string): Html {
  return shell(
    t,
    t.t('errors.title'),
    html`<main id="main" class="sign-in"><div class="card" role="alert">
<h1>${t.t('errors.title')}</h1>
<p><strong>${t.enum('code', code)}</strong> <code>${code}</code></p>
<p>${message}</p>
<p><a href="/">${t.t('errors.home')}</a></p>
</div></main>`,
  )
}

/** An inline error box for forms and partials. */
export function errorBox(t: Translator, code: string, message: string): Html {
  return html`<div class="error" role="alert"><strong>${t.enum('code', code)}</strong> <code>${code}</code><br>${message}</div>`
}
