import t from 'tap'
import { IsolatePool, type RunTask } from '../runner/index.js'
import { LIMITS, bodyText, program, request } from './helpers/programs.js'

const pool = new IsolatePool({ threads: 1 })
t.teardown(() => pool.close())

/** One source, deployed as two scripts of one tenant: `/set` writes module state, anything else reads it. */
const SOURCE = `let state = 'unset'
export default {
  fetch(request) {
    if (new URL(request.url).pathname === '/set') { state = 'set by ' + request.headers.get('x-script'); return new Response('ok') }
    return new Response(state)
  },
}`

function task(scriptId: string, version: number, path: string): RunTask {
  return {
    kind: 'fetch',
    program: program('tenant-twins', SOURCE, scriptId, version),
    input: request({ url: `http://twins.test${path}`, headers: [['x-script', scriptId]] }),
    env: {},
    limits: LIMITS,
  }
}

async function body(run: RunTask): Promise<string> {
  const result = await pool.run(run)
  t.equal(result.ok, true, result.error?.message ?? 'the run succeeded')
  return bodyText(result.response?.body)
}

t.test('two scripts of one tenant with identical source never share module state', async (t) => {
  t.equal(await body(task('script-a', 1, '/set')), 'ok')
  t.equal(await body(task('script-a', 1, '/get')), 'set by script-a', 'script a keeps its own state between runs')
  t.equal(await body(task('script-b', 1, '/get')), 'unset', 'script b, same source, has a context of its own')
  t.equal(await body(task('script-b', 1, '/set')), 'ok')
  t.equal(await body(task('script-a', 1, '/get')), 'set by script-a', 'script b setting its state leaves script a alone')
})

t.test('a rollback to an identical source (a new version) starts a fresh context', async (t) => {
  t.equal(await body(task('script-c', 1, '/set')), 'ok')
  t.equal(await body(task('script-c', 1, '/get')), 'set by script-c')
  t.equal(await body(task('script-c', 2, '/get')), 'unset', 'version 2 with version 1\'s source does not see version 1\'s state')
})
