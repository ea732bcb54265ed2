import t from 'tap'
import { RUNNER_MALLOC_TUNABLES, runnerEnvironment } from '../runner/supervisor/malloc-tunables.js'

t.test('a runner gets the allocator settings on top of the parent environment', async (t) => {
  const env = runnerEnvironment({ PATH: '/usr/bin', ISOGATE_X: 'y' })
  t.equal(env.PATH, '/usr/bin')
  t.equal(env.ISOGATE_X, 'y')
  t.equal(env.GLIBC_TUNABLES, RUNNER_MALLOC_TUNABLES.join(':'))
  t.match(env.GLIBC_TUNABLES, /glibc\.malloc\.tcache_count=\d+/)
})

t.test("an operator's own tunables are kept, and win for a tunable both name", async (t) => {
  const env = runnerEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })
  t.same(env.GLIBC_TUNABLES?.split(':'), ['glibc.malloc.arena_max=2', ...RUNNER_MALLOC_TUNABLES])
  const theirs = runnerEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=16:glibc.malloc.arena_max=2' })
  t.same(theirs.GLIBC_TUNABLES?.split(':'), ['glibc.malloc.tcache_count=16', 'glibc.malloc.arena_max=2'])
})

t.test('the parent environment is not changed', async (t) => {
  const parent = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }
  runnerEnvironment(parent)
  t.same(parent, { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })
})
