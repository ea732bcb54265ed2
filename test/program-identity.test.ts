import t from 'tap'
import { IsolatePool, type RunTask } from '../runner/index.js'
import { decodeResult, encodeTask } from '../runner/protocol.js'
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

t.test('a run names its head by number once the thread holds it; a thread that let its heads go gets them again', async (t) => {
  // 4,200 heads (a head is one per program and limits; each of these has limits of its own) on one
  // thread, which keeps 4,096 and then lets them all go: the first ones' runs come back unread, and
  // are sent again with their heads.
  const withLimits = (cpuMs: number): RunTask => ({ ...task('script-heads', 1, '/get'), limits: { ...LIMITS, cpuMs } })
  const first = withLimits(1000)
  t.equal(await body(first), 'unset')
  let failed = 0
  for (let i = 1; i <= 4200; i += 50) {
    const results = await Promise.all(Array.from({ length: 50 }, (_, j) => pool.run(withLimits(1000 + i + j))))
    failed += results.filter((result) => !result.ok).length
  }
  t.equal(failed, 0, 'every run of a new head ran')
  t.equal(await body(first), 'unset', 'the first head, let go by the thread, came again with its text')
  t.equal(await body(withLimits(5200)), 'unset', 'a head the thread still holds is named by number')
  const stats = await pool.stats()
  t.equal(stats.threadCrashes, 0)

  // A runner told of a head by number alone that it never got asks for the run again, source and head.
  const wire = encodeTask({ ...task('script-heads', 1, '/get'), limits: { ...LIMITS, cpuMs: 77 } })
  await t.rejects(pool.runWire({ ...wire, source: undefined, json: undefined }), { name: 'ProgramMissing', key: wire.key })
  t.equal(decodeResult(await pool.runWire(wire)).ok, true, 'sent with both, it runs')
  t.equal(decodeResult(await pool.runWire({ ...wire, source: undefined, json: undefined })).ok, true, 'and from then on by number')
})
