import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { escapeHtml, html, raw } from '../src/console/html.js'
import type { ConsoleOptions } from '../src/console/console-plugin.js'
import { scriptUrl } from '../src/console/routes/script-routes.js'
import { barChart, lineChart } from '../src/console/svg-chart.js'
import { pointerOf } from '../src/console/views/execution-views.js'
import { sideBySide } from '../src/console/views/version-views.js'
import type { Script } from '../src/domain/script.js'
import type { Tenant } from '../src/domain/tenant.js'

t.test('templates escape every interpolated value unless it is markup built by a template', async (t) => {
  const name = `<script>alert("x")</script>' onmouseover='1`
  t.equal(html`<td title="${name}">${name}</td>`.value, `<td title="${escapeHtml(name)}">${escapeHtml(name)}</td>`)
  t.notMatch(html`<td>${name}</td>`.value, /<script>/)
  t.equal(html`<ul>${['a', '<b>'].map((item) => html`<li>${item}</li>`)}</ul>`.value, '<ul><li>a</li><li>&lt;b&gt;</li></ul>')
  t.equal(html`${null}${undefined}${false}${0}`.value, '0')
  t.equal(html`${raw('<br>')}`.value, '<br>')
})

t.test("a script's link follows the routing: path prefix, host name, or the public URL", async (t) => {
  const request = { protocol: 'http', hostname: '127.0.0.1' } as FastifyRequest
  const tenant = { slug: 'acme' } as Tenant
  const script = { type: 'http', status: 'active', http: { path: '/orders', methods: ['GET'] } } as unknown as Script
  const options = (extra: Partial<ConsoleOptions>) => ({ dataPort: 8080, ...extra }) as ConsoleOptions
  t.equal(scriptUrl(options({}), request, tenant, script), 'http://127.0.0.1:8080/acme/orders')
  t.equal(scriptUrl(options({ baseDomain: 'fn.test' }), request, tenant, script), 'http://acme.fn.test:8080/orders')
  t.equal(scriptUrl(options({ publicUrl: 'https://fn.example.com/' }), request, tenant, script), 'https://fn.example.com/acme/orders')
  t.equal(scriptUrl(options({ publicUrl: 'https://fn.example.com', baseDomain: 'fn.example.com' }), request, tenant, script), 'https://acme.fn.example.com/orders')
  t.equal(scriptUrl(options({}), request, tenant, { ...script, http: { path: '/orders/:id', methods: ['GET'] } }), null, 'a path with parameters has no single URL')
  t.equal(scriptUrl(options({}), request, tenant, { ...script, status: 'paused' }), null, 'a paused script serves nothing')
})

t.test('the side-by-side diff pairs a changed line with its replacement and numbers both sides', async (t) => {
  const rows = sideBySide('a\nb\nc\n', 'a\nB\nc\nd\n')
  t.same(
    rows.map((row) => [row.left?.n ?? null, row.left?.text ?? null, row.right?.n ?? null, row.right?.text ?? null, row.kind]),
    [
      [1, 'a', 1, 'a', 'same'],
      [2, 'b', 2, 'B', 'change'],
      [3, 'c', 3, 'c', 'same'],
      [null, null, 4, 'd', 'change'],
    ],
  )
})

t.test("an error's source line gets a caret under its column", async (t) => {
  t.equal(pointerOf('one\n  two(x)\n', 2, 6), '2 |   two(x)\n         ^')
  t.equal(pointerOf('one', 9, 1), '', 'a line past the end has no pointer')
})

t.test('charts are labelled images whose series differ by more than colour', async (t) => {
  const slots = ['10:00', '10:01', '10:02']
  const bars = barChart({ title: 'Runs <per> minute', slots, format: String }, { label: 'runs', values: [3, 0, 5] }, { label: 'errors', values: [1, 0, 0] }).value
  t.match(bars, 'role="img"')
  t.match(bars, 'aria-label="Runs &lt;per&gt; minute"')
  t.match(bars, 'fill="url(#hatch)"', 'errors are hatched')
  t.match(bars, '<title>10:00: errors 1</title>')
  const lines = lineChart({ title: 'Duration', slots, format: String }, [
    { label: 'p50', values: [1, null, 2] },
    { label: 'p99', values: [4, null, 8], dashed: true },
  ]).value
  t.match(lines, 'class="line line-alt"', 'p99 is dashed')
  t.match(lines, /d="M[\d.]+ [\d.]+ M[\d.]+ [\d.]+"/, 'a minute without runs breaks the line')
})
