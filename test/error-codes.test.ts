import { readFileSync } from 'node:fs'
import t from 'tap'
import { ERROR_CODES } from '../src/errors.js'
import { GATEWAY_ERROR_CODES } from '../gateway/index.js'
import { RUNNER_ERROR_CODES } from '../runner/index.js'
import { EGRESS_ERROR_CODES } from '../src/host/index.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('every error code of every part is documented in the README', async (t) => {
  const codes = [...Object.keys(ERROR_CODES), ...Object.keys(GATEWAY_ERROR_CODES), ...Object.keys(RUNNER_ERROR_CODES), ...Object.keys(EGRESS_ERROR_CODES), 'CONFIG_INVALID']
  for (const code of codes) t.match(readme, `| \`${code}\` |`, `${code} is documented`)
})

t.test('error codes are upper snake case', async (t) => {
  for (const code of [...Object.keys(ERROR_CODES), ...Object.keys(GATEWAY_ERROR_CODES), ...Object.keys(RUNNER_ERROR_CODES), ...Object.keys(EGRESS_ERROR_CODES)]) {
    t.match(code, /^[A-Z][A-Z0-9_]+$/)
  }
})
