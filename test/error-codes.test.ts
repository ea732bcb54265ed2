import { readFileSync } from 'node:fs'
import t from 'tap'
import { CONFIG_ERROR_CODES } from '../config/index.js'
import { GATEWAY_ERROR_CODES, GatewayError } from '../gateway/index.js'
import { HTTP_ERROR_CODES, IsogateError, RUNNER_ERROR_CODES, RunnerError, type ErrorCatalogue } from '../runner/index.js'
import { AppError, ERROR_CODES } from '../src/errors.js'
import { EGRESS_ERROR_CODES, EgressError } from '../src/host/index.js'
import { rootPath } from './helpers/paths.js'

/** Every part's catalogue: a code is declared in exactly one of them. */
const CATALOGUES: Record<string, ErrorCatalogue> = {
  http: HTTP_ERROR_CODES,
  'control plane': ERROR_CODES,
  'data plane': GATEWAY_ERROR_CODES,
  runner: RUNNER_ERROR_CODES,
  egress: EGRESS_ERROR_CODES,
  config: CONFIG_ERROR_CODES,
}

const readme = readFileSync(rootPath('README.md'), 'utf8')

/** The README's error table: `| \`CODE\` | status or — | where | meaning |`, in order. */
function documented(): Array<{ code: string; status: number | null }> {
  const section = readme.slice(readme.indexOf('## Error codes'))
  const rows: Array<{ code: string; status: number | null }> = []
  for (const line of section.split('\n')) {
    const row = /^\| `([A-Z0-9_]+)` \| (\d{3}|—) \|/.exec(line)
    if (row !== null) rows.push({ code: row[1] as string, status: row[2] === '—' ? null : Number(row[2]) })
  }
  return rows
}

t.test('a code is declared in one catalogue only, upper snake case, with a status and a message', async (t) => {
  const seen = new Map<string, string>()
  for (const [part, catalogue] of Object.entries(CATALOGUES)) {
    for (const [code, entry] of Object.entries(catalogue)) {
      t.notOk(seen.has(code), `${code} is declared in ${part} and in ${seen.get(code)}`)
      seen.set(code, part)
      t.match(code, /^[A-Z][A-Z0-9_]+$/)
      t.ok(entry.status === null || (Number.isInteger(entry.status) && entry.status >= 400 && entry.status <= 599), `${code} has an HTTP error status or null`)
      t.ok(entry.message.length > 0, `${code} has a default message`)
    }
  }
})

t.test("the README's error table lists every code once, with its catalogue's status, and nothing else", async (t) => {
  const rows = documented()
  const all = new Map(Object.values(CATALOGUES).flatMap((catalogue) => Object.entries(catalogue)))
  const counts = new Map<string, number>()
  for (const row of rows) counts.set(row.code, (counts.get(row.code) ?? 0) + 1)
  for (const [code, count] of counts) t.equal(count, 1, `${code} is documented once`)
  for (const row of rows) {
    const entry = all.get(row.code)
    t.ok(entry, `${row.code} in the README is in a catalogue`)
    if (entry !== undefined) t.equal(row.status, entry.status, `${row.code}'s documented status is its catalogue's`)
  }
  for (const code of all.keys()) t.ok(counts.has(code), `${code} is documented`)
})

t.test('every part error is an IsogateError carrying its code and its catalogue status', async (t) => {
  const errors: Array<[IsogateError, string, number | null]> = [
    [new AppError('SCRIPT_NOT_FOUND'), 'SCRIPT_NOT_FOUND', 404],
    [new AppError('TENANT_NOT_FOUND'), 'TENANT_NOT_FOUND', 404],
    [new AppError('SCRIPT_SYNTAX_ERROR', 'x'), 'SCRIPT_SYNTAX_ERROR', 400],
    [new GatewayError('ROUTE_NOT_FOUND'), 'ROUTE_NOT_FOUND', 404],
    [new GatewayError('HEADERS_TOO_LARGE'), 'HEADERS_TOO_LARGE', 431],
    [new RunnerError('SCRIPT_TIMEOUT'), 'SCRIPT_TIMEOUT', 504],
    [new EgressError('EGRESS_DENIED', 'no'), 'EGRESS_DENIED', null],
  ]
  for (const [error, code, status] of errors) {
    t.ok(error instanceof IsogateError, `${code} is an IsogateError`)
    t.equal(error.code, code)
    t.equal(error.status, status)
  }
  t.equal(new AppError('SCRIPT_NOT_FOUND').message, ERROR_CODES.SCRIPT_NOT_FOUND.message, 'the default message is the catalogue one')
  t.throws(() => new AppError('NO_SUCH_CODE' as 'NOT_FOUND'), TypeError, 'a code outside the catalogue is refused')
})
