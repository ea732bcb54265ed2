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

/** The run's body; a failed run answers its error code instead. */
async function body(run: RunTask): Promise<string> {
  const result = await pool.run(run)
  return result.ok ? bodyText(result.response?.body) : `failed: ${result.error?.code} ${result.error?.message}`
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

t.test('a run may name its program without the source once the pool holds it; a program it never got is asked for', async (t) => {
  const named = (scriptId: string, path: string): RunTask => {
    const run = task(scriptId, 1, path)
    const { source: _source, ...program } = run.program
    return { ...run, program: program as RunTask['program'] }
  }
  await t.rejects(pool.run(named('script-never-sent', '/get')), { name: 'ProgramMissing', key: /^script-never-sent@1#[0-9a-f]{64}$/ })
  t.equal(await body(task('script-d', 1, '/set')), 'ok', 'the first run carries the source')
  t.equal(await body(named('script-d', '/get')), 'set by script-d', 'later runs name the program only')
})
