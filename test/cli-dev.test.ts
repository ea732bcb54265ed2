import { writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { cliEnv, jsonLines, projectDir, startCli } from './helpers/cli.js'

const source = (word: string) => `export default {
  async fetch(request: Request): Promise<Response> {
    console.log('serving ${word}')
    return new Response('${word}')
  },
}
`

// Starting a whole isogate (embedded database, runner processes) takes seconds; on a machine
// shared by many test runs it has taken over a minute.
t.setTimeout(300_000)

t.test('isogate dev serves the entry with the isolate runtime, prints each request, and reloads on a file change', async (t) => {
  const dir = projectDir(t, { 'isogate.json': JSON.stringify({ name: 'devved', main: 'src/index.ts', route: { path: '/dev-hello' } }), 'src/index.ts': source('before') })
  const dev = startCli(['dev', '--port', '0', '--json'], { cwd: dir, env: cliEnv({ XDG_CONFIG_HOME: path.join(dir, '.config') }) })
  const exited = new Promise<number | null>((resolve) => dev.on('close', (code) => resolve(code)))
  t.teardown(() => dev.kill('SIGKILL'))
  const ready = await jsonLines(dev, (line) => line.type === 'ready', 240_000)
  t.match(ready, { url: /^http:\/\/127\.0\.0\.1:\d+\/dev\/dev-hello$/, version: 1 })
  t.equal(await (await fetch(ready.url)).text(), 'before')
  const printed = await jsonLines(dev, (line) => line.type === 'run')
  t.match(printed, { method: 'GET', path: '/dev-hello', status: 200, logs: [{ message: 'serving before' }] }, 'each request is printed with its status, time and logs')

  const changed = performance.now()
  writeFileSync(path.join(dir, 'src/index.ts'), source('after'))
  const reload = await jsonLines(dev, (line) => line.type === 'reload')
  const ms = performance.now() - changed
  t.equal(reload.version, 2)
  // The target is 1 s (tens of ms idle: one esbuild rebuild and one PATCH). A test is not a
  // benchmark: the bound here only catches a watcher that polls or misses, and stays green on a
  // machine shared by many test runs (1.8 s was measured at load 33 on 2 cores).
  t.ok(ms < 5000, `reloaded ${Math.round(ms)} ms after the change (rebuild and upload took ${reload.ms} ms)`)
  t.equal(await (await fetch(ready.url)).text(), 'after')

  writeFileSync(path.join(dir, 'src/index.ts'), 'export default { fetch( }')
  const broken = await jsonLines(dev, (line) => line.type === 'error')
  t.match(broken, { code: 'BUNDLE_FAILED', message: /src\/index\.ts:1:/ })
  t.equal(await (await fetch(ready.url)).text(), 'after', 'a change that does not build keeps the last version serving')

  dev.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM stops it cleanly')
})
