/**
 * Loaded into every test process before the test (`--import`, test/built.taprc and package.json's
 * `tap` section): the processes and threads the code under test starts (runner processes and
 * their worker threads, fixture processes, a CLI) start without tap's own loaders.
 *
 * tap starts a test with `--import` of @tapjs/mock and @tapjs/processinfo, and processinfo puts
 * itself in NODE_OPTIONS, so every Node process under the test loads both again, and every worker
 * thread of theirs, which moves each module load through loader hooks: a runner with two worker
 * threads started in 2.6 s and 4.1 s of CPU with them against 0.45 s and 0.6 s without. They serve
 * tap's mocks and its per-process coverage records, which the suite does not use
 * (`disable-coverage`). The test process itself keeps them.
 */
const fromTap = (arg: string): boolean => /^--(import|loader|experimental-loader)=.*@tapjs\//.test(arg)
/** This module's own `--import`, relative to the checkout: a child started elsewhere would not find it, and needs it not. */
const thisModule = (arg: string): boolean => /^--import=.*untapped-children\.(js|ts)$/.test(arg)

// The array children are given (runner-fleet.ts, test/helpers/paths.ts nodeArgs): changed in
// place, before any test module reads it.
for (let i = process.execArgv.length - 1; i >= 0; i--) {
  const arg = process.execArgv[i] as string
  if (fromTap(arg) || thisModule(arg)) process.execArgv.splice(i, 1)
}

const options = process.env.NODE_OPTIONS
if (options !== undefined) {
  // processinfo writes its one option quoted: `"--import=file:///.../processinfo/dist/esm/import.mjs"`.
  const kept = (options.match(/"[^"]*"|\S+/g) ?? []).filter((token) => !fromTap(token.replace(/^"|"$/g, '')))
  if (kept.length === 0) delete process.env.NODE_OPTIONS
  else process.env.NODE_OPTIONS = kept.join(' ')
}

export {}
