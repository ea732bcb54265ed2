/**
 * glibc's allocator settings for a runner process (`GLIBC_TUNABLES`, read when the process
 * starts; other C libraries ignore it).
 *
 * A runner's thread enters isolates back to back, a batch of runs a turn, and isolated-vm
 * allocates and frees small C++ objects at every call (its tasks, argument copies, the call's
 * timeout). glibc keeps 7 freed chunks of a size per thread (`tcache`); past that they go to
 * its shared bins, through `_int_malloc` and, once a large chunk (a socket read's buffer) is
 * freed, `malloc_consolidate`. In `perf` of a runner serving hello at 100 connections those two
 * were 7.2% of its main thread, and 1.1% with 1,024 chunks a size kept.
 *
 * Measured (hello@100, two servers up, loads alternating, medians of 6-8 rounds of 3 s): the
 * runner's main thread 25.1 against 29.8, 26.7 against 29.1 and 27.8 against 37.2 us a
 * request (with 256 chunks kept); at 100 tenants spread, within the noise (the isolates' own
 * costs dominate there). The gateway's thread spends under 1% in `_int_malloc`: it is left as
 * it is. What the kept chunks may hold: tcache serves 64 sizes up to 1,032 bytes, so at most
 * about 34 MiB a thread if a thread freed 1,024 chunks of every size; in practice what a batch
 * frees. Runner RSS after 9 s of load, the session before against this: hello@100, the busy
 * runner 129 against 131 MiB; 100 tenants spread, the two busy runners 458 against 473 MiB.
 */
export const RUNNER_MALLOC_TUNABLES: readonly string[] = ['glibc.malloc.tcache_count=1024']

/**
 * The runner's environment: the parent's, with the allocator settings added to any
 * `GLIBC_TUNABLES` the operator set (theirs win for a tunable both name).
 */
export function runnerEnvironment(parent: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own = (parent.GLIBC_TUNABLES ?? '').split(':').filter((entry) => entry.length > 0)
  const named = new Set(own.map(tunableName))
  const added = RUNNER_MALLOC_TUNABLES.filter((entry) => !named.has(tunableName(entry)))
  return { ...parent, GLIBC_TUNABLES: [...own, ...added].join(':') }
}

/** `glibc.malloc.tcache_count` of `glibc.malloc.tcache_count=1024`. */
function tunableName(entry: string): string {
  return entry.split('=', 1)[0] as string
}
