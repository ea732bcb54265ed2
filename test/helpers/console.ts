import type { Isogate } from '../../src/app.js'

/**
 * Signs in to the web console with an API key over plain HTTP, as a browser's form would (the
 * pre-session CSRF token is a double submit: the same value in a cookie and in the form);
 * answers the session's Cookie header.
 */
export async function consoleSession(isogate: Isogate, token: string): Promise<string> {
  const csrf = 'test-pre-session-token'
  const response = await fetch(`http://127.0.0.1:${isogate.adminPort}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `ig_pre=${csrf}` },
    body: new URLSearchParams({ _csrf: csrf, token }).toString(),
    redirect: 'manual',
  })
  const session = response.headers.getSetCookie().find((cookie) => cookie.startsWith('ig_session='))
  if (response.status !== 303 || session === undefined) throw new Error(`console sign-in: ${response.status} ${await response.text()}`)
  return session.split(';')[0] as string
}

/** A console page's HTML for a session (no redirects followed: a redirect is an error here). */
export async function consolePage(isogate: Isogate, cookie: string, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${isogate.adminPort}${path}`, { headers: { cookie }, redirect: 'manual' })
  if (response.status !== 200) throw new Error(`console ${path}: ${response.status}`)
  return response.text()
}
