import t from 'tap'
import { execFile } from 'node:child_process'
import { nodeArgs, ROOT } from './helpers/paths.js'

// A thread that held isolated-vm's handles must not end in the middle of a collection of its heap
// (runner/thread/collect-garbage.ts). A worker thread collects before it ends; a process that holds
// isolates on its main thread (platform-chunks and tenant-isolate-cpu's tests, bench/runner-bench.ts)
// collects as it exits. The fixture ends with a collection in progress on purpose.

interface Exit { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

function exitOf(mode: 'collect' | 'none'): Promise<Exit> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...nodeArgs('test/fixtures/isolates-at-exit.ts'), mode], { cwd: ROOT, timeout: 60_000 }, (_error, stdout, stderr) => {
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr })
    })
  })
}

t.test('a process that held isolates on its main thread exits cleanly with a collection in progress, collecting as it exits', async (t) => {
  const collected = await exitOf('collect')
  t.equal(collected.stdout, 'ending\n')
  t.same({ code: collected.code, signal: collected.signal }, { code: 0, signal: null }, collected.stderr)
})

t.test('without the collection at exit the same process aborts: the hazard it is for', async (t) => {
  // If this starts to pass (a later isolated-vm finalises its handles at exit without its state),
  // the collection is no longer needed: say so in runner/thread/collect-garbage.ts.
  const bare = await exitOf('none')
  t.equal(bare.stdout, 'ending\n')
  t.equal(bare.signal, 'SIGABRT')
  t.match(bare.stderr, /IsolateEnvironment::GetCurrent\(\): Assertion `environment != nullptr' failed/)
})
