import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import t from 'tap'
import WebSocket from 'ws'
import { databaseTargets } from './helpers/databases.js'
import { ADMIN_TOKEN, api, startTestIsogate } from './helpers/isogate.js'

/**
 * The web console end to end in a real Chromium (Debian's, driven by playwright-core): one
 * browser, one isogate, every page visited in en, ru and uz. With ISOGATE_SCREENSHOTS=1, a
 * screenshot of each under test-output/console/ for people to look at (off by default: they cost
 * a quarter of the test's time, and CI keeps no files).
 */
// A margin over the suite's 120 s per file for a loaded machine (the test itself aims at ~40 s; every
// browser step is bounded by the 20 s action timeout below).
t.setTimeout(240_000)

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = process.env.ISOGATE_SCREENSHOTS === '1' ? path.resolve('test-output/console') : null
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

const BROKEN = `export default {
  async fetch(request, env, ctx) {
    return new Response('hi' 
  },
}
`
const V1 = `export default {
  async fetch(request, env, ctx) {
    ctx.logger.info('served', request.url)
    return Response.json({ hello: 'console' })
  },
  async run(input, env, ctx) {
    ctx.logger.info('hello from run', input.n)
    return { doubled: input.n * 2 }
  },
}
`
const V2 = V1.replace("{ hello: 'console' }", "{ hello: 'version two' }")

t.test('the web console in Chromium: sign in, write, deploy, run, roll back, three languages, permissions, CSRF', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)` }, async (t) => {
  // One isogate: on the server database when there is one (it starts in a fraction of the embedded
  // one's time, which the suites that test the database itself already cover), else embedded.
  const target = databaseTargets().at(-1)!
  const databaseUrl = await target.createUrl()
  t.teardown(() => target.cleanup())
  // No retries: a failed event delivery becomes a dead letter at once, for the replay step.
  const isogate = await startTestIsogate(t, { databaseUrl, workers: 1, eventRetries: 0 })
  const base = `http://127.0.0.1:${isogate.adminPort}`
  t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'acme', name: 'Acme' } })).status, 201)
  const keyOf = async (role: string) => (await api(isogate, 'POST', '/api/v1/tenants/acme/keys', { body: { role, name: `${role} key` } })).body.token as string
  const [viewerToken, developerToken] = await Promise.all([keyOf('viewer'), keyOf('developer')])

  if (SHOTS !== null) mkdirSync(SHOTS, { recursive: true })
  const shoot = async (page: Page, name: string, fullPage = false): Promise<void> => {
    if (SHOTS !== null) await page.screenshot({ path: path.join(SHOTS, name), fullPage })
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  const outside: string[] = []
  const open = async (locale = 'en-US'): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } })
    // Nothing may leave loopback: a request elsewhere is recorded and refused.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url())
      if (url.hostname === '127.0.0.1') return route.continue()
      outside.push(url.href)
      return route.abort()
    })
    context.setDefaultTimeout(20_000)
    const page = await context.newPage()
    page.on('dialog', (dialog) => void dialog.accept())
    return { context, page }
  }
  const signIn = async (page: Page, token: string, shot?: string) => {
    await page.goto(`${base}/`)
    t.match(page.url(), /\/sign-in\?next=%2F$/, 'a page without a session sends the browser to sign in')
    if (shot !== undefined) await shoot(page, shot)
    await page.getByLabel('API key').fill(token)
    await page.getByLabel('API key').press('Enter') // the keyboard alone signs in
  }

  const { context, page } = await open()
  await signIn(page, ADMIN_TOKEN, 'sign-in.en.png')
  await page.waitForURL(`${base}/tenants`)
  t.match((await context.cookies()).find((c) => c.name === 'ig_session'), { httpOnly: true, sameSite: 'Strict' }, 'the session cookie is HttpOnly and SameSite=Strict')
  await page.getByLabel('Tenant').selectOption('acme')
  await page.getByRole('button', { name: 'Open' }).click()
  await page.waitForURL(`${base}/`)
  t.match(await page.locator('h1').textContent(), 'Overview of Acme')
  await page.keyboard.press('Tab')
  t.equal(await page.locator(':focus').textContent(), 'Skip to content', 'the first Tab reaches the skip link')
  await page.keyboard.press('Enter')
  t.equal(await page.locator(':focus').getAttribute('id'), 'main', 'which moves focus to the content')

  // Create: a syntax error is marked in the editor before saving, and again by the server on save.
  await page.getByRole('link', { name: 'Scripts' }).click()
  await page.getByRole('link', { name: 'New script' }).click()
  await page.waitForURL(`${base}/scripts/new`)
  await page.getByLabel('Name', { exact: true }).fill('hello')
  // A scheduled script previews its next runs as you type, in the chosen zone.
  await page.getByLabel('Type', { exact: true }).selectOption('scheduled')
  await page.getByLabel('Time zone').fill('Asia/Tashkent')
  await page.getByLabel('Cron expression').fill('30 9 * * *')
  await page.locator('#cron-runs li').nth(4).waitFor()
  t.match(await page.locator('#cron-runs li').first().textContent(), /09:30:00.*GMT\+5/, 'the next runs are shown in the chosen zone')
  await page.getByLabel('Type', { exact: true }).selectOption('http')
  await page.getByLabel('Path').fill('/hello')
  const editor = page.locator('.cm-content')
  // Completion from isogate's script types.
  await editor.fill('export default { run(input, env, ctx) { return ctx.')
  await editor.press('End')
  await editor.pressSequentially('d')
  await page.locator('.cm-tooltip-autocomplete').waitFor()
  t.match(await page.locator('.cm-tooltip-autocomplete').textContent(), 'db', 'ctx. completes from isogate.d.ts')
  await editor.press('Escape')
  await editor.fill(BROKEN)
  await page.locator('.cm-lintRange-error').first().waitFor({ timeout: 10_000 })
  t.match(await page.locator('#check-status').textContent(), /SCRIPT_SYNTAX_ERROR.*\(3:\d+\)/, 'the check names the line and column as you type')
  const markedLine = await page.locator('.cm-line', { has: page.locator('.cm-lintRange-error') }).first().textContent()
  t.match(markedLine, "new Response('hi'", 'the error is marked on the line it is on')
  await page.getByRole('button', { name: 'Create and deploy' }).click()
  await page.locator('.error[role=alert]').waitFor()
  t.match(await page.locator('.error[role=alert]').textContent(), 'Syntax error', 'the save answers the translated error code')
  await page.locator('.cm-lintRange-error').first().waitFor()
  t.equal(await page.locator('#source').getAttribute('data-error-line'), '3', "the server's line is marked after the failed save")

  await editor.fill(V1)
  await page.locator('.cm-lintRange-error').waitFor({ state: 'detached', timeout: 10_000 })
  await page.getByRole('button', { name: 'Create and deploy' }).click()
  await page.waitForURL(/\/scripts\/[0-9a-f-]{36}\?saved=1$/)
  const scriptPath = new URL(page.url()).pathname
  t.match(await page.getByRole('status').first().textContent(), 'version 1')

  // Its URL answers on the data plane.
  const url = await page.locator('#script-url').getAttribute('href')
  t.equal(url, `http://127.0.0.1:${isogate.dataPort}/acme/hello`)
  const served = await context.request.get(url as string)
  t.same(await served.json(), { hello: 'console' }, 'the deployed script answers at its URL')

  // Run now with JSON input, then read the run's logs.
  await page.getByLabel('Input (JSON)').fill('{"n": 21}')
  await page.getByRole('button', { name: 'Run', exact: true }).click()
  await page.locator('#run-result .notice').waitFor()
  t.match(await page.locator('#run-result').textContent(), /Completed[\s\S]*"doubled": 42/)
  await page.locator('#run-result a').click()
  await page.waitForURL(/\/executions\/[0-9a-f-]{36}$/)
  const executionPath = new URL(page.url()).pathname
  t.match(await page.locator('table.logs').textContent(), 'hello from run 21', "the run's log line is on its page")

  // The live view: the live tail over a WebSocket the page opens with its session. Runs made
  // after it opened appear without a reload: a manual run (linked to its record) and an HTTP run
  // through the data plane (every one shows, though the records only sample successes).
  await page.goto(`${base}/executions?live=1`)
  await page.locator('#live-runs[data-state=ready]').waitFor()
  t.match(await page.locator('#live-state').textContent(), 'Connected', 'the page says it is connected')
  await page.evaluate('window.sameDocument = true')
  const scriptId = scriptPath.split('/').at(-1) as string
  const manual = await api(isogate, 'POST', `/api/v1/scripts/${scriptId}/run`, { tenant: 'acme', body: { input: { n: 1 } } })
  t.equal(manual.status, 200)
  const liveRows = page.locator('#live-runs tbody tr')
  await page.locator(`#live-runs tbody tr[data-id="${manual.body.id}"]`).waitFor()
  t.match(await page.locator(`#live-runs tr[data-id="${manual.body.id}"]`).textContent(), /hello v1\s*Manual\s*Completed/, 'the manual run appears with its script, trigger and status')
  t.equal(await page.locator(`#live-runs tr[data-id="${manual.body.id}"] a[href="/executions/${manual.body.id}"]`).count(), 1, 'and links to its record')
  t.equal((await context.request.get(url as string)).status(), 200)
  await liveRows.nth(1).waitFor()
  t.match(await liveRows.first().textContent(), /hello v1\s*HTTP request\s*Completed/, 'the HTTP run appears above it')
  t.equal(await liveRows.count(), 2, 'one row per run')
  t.equal(await page.evaluate('window.sameDocument'), true, 'without a reload')
  // Another tenant's run never reaches this session's tail: the next row is acme's own.
  t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'globex', name: 'Globex' } })).status, 201)
  t.equal((await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'globex', body: { name: 'other', type: 'http', source: V1, http: { path: '/hello', methods: ['GET'] } } })).status, 201)
  t.equal((await fetch(`http://127.0.0.1:${isogate.dataPort}/globex/hello`)).status, 200)
  const again = await api(isogate, 'POST', `/api/v1/scripts/${scriptId}/run`, { tenant: 'acme', body: { input: { n: 2 } } })
  await page.locator(`#live-runs tbody tr[data-id="${again.body.id}"]`).waitFor()
  t.equal(await liveRows.count(), 3, "the other tenant's run is not shown")

  // The tail takes the session only from the console's own origin, with the session's role and tenant.
  const session = (await context.cookies()).find((c) => c.name === 'ig_session')?.value as string
  const tailUrl = `ws://127.0.0.1:${isogate.adminPort}/api/v1/tail`
  t.same(await tailAttempt(tailUrl, { cookie: `ig_session=${session}`, origin: base }), { ready: true }, 'same origin: the tail opens')
  t.same(await tailAttempt(tailUrl, { cookie: `ig_session=${session}`, origin: 'http://evil.example' }), { status: 403, code: 'ORIGIN_REFUSED' }, 'another origin with the cookie: refused')
  t.same(await tailAttempt(tailUrl, { cookie: `ig_session=${session}`, origin: `http://localhost:${isogate.adminPort}` }), { status: 403, code: 'ORIGIN_REFUSED' }, 'another host name of the same machine: refused')
  t.same(await tailAttempt(tailUrl, { cookie: `ig_session=${session}` }), { status: 403, code: 'ORIGIN_REFUSED' }, 'no Origin at all: refused')
  t.same(await tailAttempt(tailUrl, { cookie: 'ig_session=not-a-session', origin: base }), { status: 401, code: 'UNAUTHORIZED' }, 'an unknown session: a key is asked for')
  t.same(await tailAttempt(`ws://127.0.0.1:${isogate.adminPort}/api/v1/execute`, { cookie: `ig_session=${session}`, origin: base }), { status: 401, code: 'UNAUTHORIZED' }, 'a route that takes no session ignores the cookie')

  // A run that throws: its page shows the error with the source line and a caret under the column.
  await page.goto(`${base}${scriptPath}`)
  await page.getByLabel('Input (JSON)').fill('{not json')
  await page.getByRole('button', { name: 'Run', exact: true }).click()
  await page.locator('#run-result .error').waitFor()
  t.match(await page.locator('#run-result').textContent(), 'Invalid input', 'input that is not JSON is refused in place, before any run')
  await page.getByLabel('Input (JSON)').fill('null')
  await page.getByRole('button', { name: 'Run', exact: true }).click()
  await page.locator('#run-result .error').waitFor()
  await page.locator('#run-result a').click()
  await page.waitForURL(/\/executions\/[0-9a-f-]{36}$/)
  t.match(await page.locator('main .error[role=alert]').textContent(), /SCRIPT_ERROR[\s\S]*line 7/, 'the error names its code and line')
  t.match(await page.locator('pre.pointer').textContent(), /^7 \|.*input\.n\)\n\s+\^$/, 'the source line with a caret under the column')
  const failedPath = new URL(page.url()).pathname

  // A second version, then roll back to the first: the confirmation and the result show the diff.
  await page.goto(`${base}${scriptPath}/edit`)
  await editor.fill(V2)
  await page.getByRole('button', { name: 'Save and deploy' }).click()
  await page.waitForURL(/saved=1$/)
  t.match(await page.getByRole('status').first().textContent(), 'version 2')
  await page.goto(`${base}${scriptPath}/versions`)
  await page.getByRole('link', { name: 'Roll back to 1' }).click()
  t.match(await page.locator('h1').textContent(), 'Roll back to version 1?')
  t.match((await page.locator('.diff td.del').allTextContents()).join('\n'), 'version two', 'the confirmation shows what goes')
  await page.getByRole('button', { name: 'Roll back' }).click()
  await page.waitForURL(/rolledBack=1$/)
  t.match(await page.getByRole('status').first().textContent(), 'version 3 has the source of version 1')
  t.match((await page.locator('.diff td.del').allTextContents()).join('\n'), 'version two', 'the diff of 2 and 3 shows the removed line')
  t.match((await page.locator('.diff td.add').allTextContents()).join('\n'), "hello: 'console'", 'and the line that came back')
  t.same(await (await context.request.get(url as string)).json(), { hello: 'console' }, 'the rolled-back source serves')

  // Status changes: only the allowed transitions are offered; the badge follows.
  await page.goto(`${base}${scriptPath}`)
  await page.getByLabel('Change status to').selectOption('paused')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.waitForURL(`${base}${scriptPath}`)
  t.equal(await page.locator('dl.facts .badge').first().textContent(), 'Paused')
  await page.getByLabel('Change status to').selectOption('active')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.waitForURL(`${base}${scriptPath}`)
  t.equal(await page.locator('dl.facts .badge').first().textContent(), 'Active')

  // A dead letter (an event script that throws, no retries) is listed with its attempt and replayed.
  const failing = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'acme', body: { name: 'on-order', type: 'event', events: { types: ['order.created'] }, source: 'export default { event() { throw new Error("no stock") } }' } })
  t.equal(failing.status, 201)
  t.equal((await api(isogate, 'POST', '/api/v1/events', { tenant: 'acme', body: { type: 'order.created', payload: { id: 7 } } })).status, 202)
  await page.goto(`${base}/dead-letters`)
  for (let i = 0; i < 40 && (await page.getByRole('button', { name: 'Replay' }).count()) === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    await page.reload()
  }
  t.match(await page.locator('main table').textContent(), /order\.created[\s\S]*on-order[\s\S]*1 attempt[\s\S]*no stock/, 'the dead letter shows its event, script, attempts and last error')
  await page.getByRole('button', { name: 'Replay' }).click()
  await page.waitForURL(`${base}/dead-letters?replayed=1`)
  t.match(await page.getByRole('status').textContent(), 'a new delivery is queued')
  t.match(await page.locator('main table').textContent(), 'Replayed', 'it is marked replayed and cannot be replayed twice')

  // An API key: its token is shown once.
  await page.goto(`${base}/keys`)
  await page.getByLabel('Name').fill('ci deploy')
  await page.getByLabel('Role').selectOption('developer')
  await page.getByRole('button', { name: 'Create key' }).click()
  t.match(await page.locator('#new-token').textContent(), /^igk_/, 'the new token is on the page once')
  await page.goto(`${base}/keys`)
  t.equal(await page.locator('#new-token').count(), 0, 'and never again')

  // A scheduled script (three scripts: a plural of few in Russian), then every page in every language.
  const nightly = await api(isogate, 'POST', '/api/v1/scripts', { tenant: 'acme', body: { name: 'nightly', type: 'scheduled', source: 'export default { async scheduled(controller, env, ctx) { ctx.logger.info("tick") } }', cron: { expression: '0 3 * * *', timezone: 'Asia/Tashkent' } } })
  t.equal(nightly.status, 201)
  const pages: Array<[string, string]> = [
    ['overview', '/'],
    ['scripts', '/scripts'],
    ['script', scriptPath],
    ['scheduled', `/scripts/${nightly.body.id}`],
    ['editor', `${scriptPath}/edit`],
    ['versions', `${scriptPath}/versions?a=2&b=3`],
    ['executions', '/executions?live=1'],
    ['execution', executionPath],
    ['failed-execution', failedPath],
    ['dead-letters', '/dead-letters'],
    ['keys', '/keys'],
    ['audit', '/audit'],
  ]
  const expected = {
    en: { nav: 'Scripts', count: '3 scripts', window: 'Last 60 minutes', status: 'Active' },
    ru: { nav: 'Скрипты', count: '3 скрипта', window: 'Последние 60 минут', status: 'Активен' },
    uz: { nav: 'Skriptlar', count: '3 ta skript', window: 'Soʻnggi 60 daqiqa', status: 'Faol' },
  } as const
  for (const [locale, label] of [['en', 'English'], ['ru', 'Русский'], ['uz', 'Oʻzbekcha']] as const) {
    await page.goto(`${base}/scripts`)
    await page.getByRole('link', { name: label }).click()
    await page.waitForURL(`${base}/scripts`)
    t.equal(await page.locator('html').getAttribute('lang'), locale === 'uz' ? 'uz-Latn' : locale)
    t.equal(await page.locator('header nav a[aria-current=page]').textContent(), expected[locale].nav, `${locale}: the navigation is translated`)
    t.equal(await page.locator('#script-count').textContent(), expected[locale].count, `${locale}: the plural form of the count`)
    t.match(await page.locator('tbody .badge').first().textContent(), expected[locale].status, `${locale}: enum values are translated`)
    for (const [name, target] of pages) {
      await page.goto(`${base}${target}`)
      if (name === 'editor') await page.locator('.cm-editor').waitFor()
      if (name === 'script') t.match(await page.locator('main').textContent(), expected[locale].window, `${locale}: the health window's plural`)
      await shoot(page, `${name}.${locale}.png`, true)
    }
  }
  await page.goto(`${base}/language/en?back=/`)

  // The language sticks for the session's browser: a fresh visit keeps it, whatever Accept-Language says.
  const sticky = await context.newPage()
  await context.setExtraHTTPHeaders({ 'accept-language': 'ru' })
  await sticky.goto(`${base}/scripts`)
  t.equal(await sticky.locator('header nav a[aria-current=page]').textContent(), 'Scripts', 'the switcher wins over Accept-Language')
  await sticky.close()

  // Forged POST: the session cookie without the CSRF token is refused and nothing is deleted.
  const forged = await context.request.post(`${base}${scriptPath}/delete`, { form: {}, maxRedirects: 0 })
  t.equal(forged.status(), 403, 'a POST without the CSRF token is refused')
  t.match(await forged.text(), 'CSRF_INVALID')
  t.equal((await context.request.get(`${base}${scriptPath}`)).status(), 200, 'the script is still there')

  // A fresh browser picks its language from Accept-Language: the sign-in page in Russian, in Uzbek.
  for (const [locale, title] of [['ru-RU', 'Вход'], ['uz-UZ', 'Kirish']] as const) {
    const fresh = await open(locale)
    await fresh.page.goto(`${base}/sign-in`)
    t.equal(await fresh.page.locator('h1').textContent(), title, `${locale}: the sign-in page follows Accept-Language`)
    await shoot(fresh.page, `sign-in.${locale.slice(0, 2)}.png`)
    await fresh.context.close()
  }

  // A viewer sees no edit, run or delete control; the server refuses a run anyway.
  const viewer = await open()
  await signIn(viewer.page, viewerToken)
  await viewer.page.waitForURL(`${base}/`)
  await viewer.page.goto(`${base}${scriptPath}`)
  t.equal(await viewer.page.getByRole('link', { name: 'Edit' }).count(), 0, 'a viewer sees no Edit')
  t.equal(await viewer.page.getByRole('button', { name: 'Run', exact: true }).count(), 0, 'a viewer sees no Run')
  t.equal(await viewer.page.getByRole('button', { name: 'Delete' }).count(), 0, 'a viewer sees no Delete')
  t.equal(await viewer.page.locator('select#new-status').count(), 0, 'a viewer sees no status change')
  await viewer.page.goto(`${base}/scripts`)
  t.equal(await viewer.page.getByRole('link', { name: 'New script' }).count(), 0, 'a viewer sees no New script')
  t.equal(await viewer.page.getByRole('link', { name: 'API keys' }).count(), 0, 'a viewer sees no API keys')
  const csrf = await viewer.page.locator('input[name=_csrf]').first().inputValue()
  const refused = await viewer.context.request.post(`${base}${scriptPath}/run`, { form: { _csrf: csrf, input: '{}' }, maxRedirects: 0 })
  t.equal(refused.status(), 403, 'the server refuses a viewer’s run even with a valid CSRF token')
  t.match(await refused.text(), 'FORBIDDEN')
  await viewer.context.close()

  // A developer edits and runs but sees no Delete.
  const developer = await open()
  await signIn(developer.page, developerToken)
  await developer.page.waitForURL(`${base}/`)
  await developer.page.goto(`${base}${scriptPath}`)
  t.equal(await developer.page.getByRole('link', { name: 'Edit' }).count(), 1, 'a developer sees Edit')
  t.equal(await developer.page.getByRole('button', { name: 'Delete' }).count(), 0, 'a developer sees no Delete')
  await developer.context.close()

  // Sign-out ends the session on the server: the old cookie no longer opens a page.
  const cookie = (await context.cookies()).find((c) => c.name === 'ig_session')?.value
  await page.goto(`${base}/`)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(`${base}/sign-in`)
  const after = await fetch(`${base}/`, { headers: { cookie: `ig_session=${cookie}` }, redirect: 'manual' })
  t.equal(after.status, 303, 'a signed-out session cookie is refused')
  await context.close()

  t.same(outside, [], 'the console made no request beyond loopback')
})

/** Opens a WebSocket as a browser would (cookie, Origin): `{ready: true}` once the tail says so, else the refusal. */
function tailAttempt(url: string, headers: Record<string, string>): Promise<{ ready: true } | { status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('message', (data) => {
      ws.close()
      resolve(JSON.parse(String(data)).type === 'ready' ? { ready: true } : JSON.parse(String(data)))
    })
    ws.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk.toString()))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, code: JSON.parse(body).error.code }))
    })
    ws.once('error', reject)
  })
}
