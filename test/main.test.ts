import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { TEST_EMBEDDED_TEMPLATE } from '../config/test.js'
import { alive, childPids } from './helpers/processes.js'
import { ROOT, userNodeArgs } from './helpers/paths.js'
import { tempFolder } from './helpers/temp.js'

interface Running {
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill: (signal: NodeJS.Signals) => void
  pid: number
}

/** Starts isogate's main module as `npm start` would (its build; its source under tsx), with only the given environment. */
function startMain(env: Record<string, string>): Running {
  const child = spawn(process.execPath, userNodeArgs('src/main.ts'), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', ADMIN_PORT: '0', ISOGATE_LOG_LEVEL: 'warn', ISOGATE_WORKERS: '1', ISOGATE_EMBEDDED_TEMPLATE: TEST_EMBEDDED_TEMPLATE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return { output: () => output, exited, kill: (signal) => child.kill(signal), pid: child.pid ?? 0 }
}

async function banner(running: Running): Promise<{ dataPort: number }> {
  // Bounded at 2 minutes: a first boot on a busy machine (two test files at once) can take 30 s.
  for (let i = 0; i < 2400; i++) {
    const match = /data plane\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(running.output())
    if (match && /try\s+curl/.test(running.output())) return { dataPort: Number(match[1]) }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`no banner: ${running.output()}`)
}

t.test('npm start with no configuration creates the demo tenant, serves /demo/hello and stops cleanly', async (t) => {
  const dataDir = tempFolder(t, 'isogate-main-')
  const first = startMain({ ISOGATE_DATA_DIR: dataDir })
  t.teardown(() => first.kill('SIGKILL'))
  const { dataPort } = await banner(first)
  t.match(first.output(), /admin token\s+igk_\S+/, 'the generated admin token is printed once')
  const tokenFile = path.join(dataDir, 'admin-token')
  t.match(first.output(), tokenFile, 'and where its copy is')
  t.equal(statSync(tokenFile).mode & 0o777, 0o600, 'the copy is readable by its owner only')
  const response = await fetch(`http://127.0.0.1:${dataPort}/demo/hello`)
  t.equal(response.status, 200)
  t.match(await response.json(), { hello: 'world' })
  const runners = childPids(first.pid)
  t.ok(runners.length >= 1, `the gateway runs scripts in runner processes: ${runners.join(', ')}`)
  // ISOGATE_RUNNER_TIMER_SLACK_US's default, in the runners only (runner/process/timer-slack.ts).
  // Another process's slack is readable with CAP_SYS_NICE (root, as CI runs) only.
  const slack = (pid: number | 'self'): string | null => {
    try {
      return readFileSync(`/proc/${pid}/timerslack_ns`, 'utf8').trim()
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EPERM' || (error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
  }
  if (existsSync('/proc/self/timerslack_ns') && slack(first.pid as number) !== null) {
    for (const pid of runners) t.equal(slack(pid), '1000000', `runner ${pid} has a timer slack of 1 ms`)
    t.equal(slack(first.pid as number), slack('self'), 'the gateway keeps the one it started with')
  }
  first.kill('SIGTERM')
  t.same(await first.exited, { code: 0, signal: null }, 'SIGTERM exits 0')
  // Runners stop when the gateway's channel closes; they may need a moment to close their threads.
  for (let i = 0; i < 100 && runners.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(runners.filter(alive), [], 'no runner process is left within 5 s of the gateway exiting')

  const second = startMain({ ISOGATE_DATA_DIR: dataDir })
  t.teardown(() => second.kill('SIGKILL'))
  const again = await banner(second)
  t.notMatch(second.output(), /igk_/, 'the token is not shown again')
  t.match(second.output(), /generated at first start/)
  const token = readFileSync(tokenFile, 'utf8').trim()
  t.match(token, /^igk_/)
  t.equal((await fetch(`http://127.0.0.1:${again.dataPort}/demo/hello`)).status, 200, 'the demo survived the restart')
  second.kill('SIGINT')
  t.same(await second.exited, { code: 0, signal: null }, 'SIGINT exits 0')
})

t.test('a bad setting stops boot with a message naming it', async (t) => {
  const running = startMain({ PORT: 'not-a-port', ISOGATE_DATA_DIR: tempFolder(t, 'isogate-main-') })
  const { code } = await running.exited
  t.equal(code, 2)
  t.match(running.output(), /invalid setting port \(PORT\)/)
})

t.test('SIGTERM during a 2-second request: readyz fails, the request still completes with 200, exit 0', async (t) => {
  const dataDir = tempFolder(t, 'isogate-main-')
  const running = startMain({ ISOGATE_DATA_DIR: dataDir, ISOGATE_ADMIN_TOKEN: 'drain-test-token', ISOGATE_DEMO: 'false' })
  t.teardown(() => running.kill('SIGKILL'))
  let adminPort = 0
  let dataPort = 0
  for (let i = 0; i < 600 && adminPort === 0; i++) {
    const data = /data plane\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(running.output())
    const admin = /control plane\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(running.output())
    if (data && admin) {
      dataPort = Number(data[1])
      adminPort = Number(admin[1])
    } else await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`)
  t.same({ status: ready.status, body: await ready.json() }, { status: 200, body: { status: 'ready', checks: { database: true, runners: true, draining: false } } }, 'readyz checks the database, the runners and draining')
  const headers = { authorization: 'Bearer drain-test-token', 'content-type': 'application/json' }
  const post = (path: string, body: unknown, extra: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${adminPort}${path}`, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body) })
  t.equal((await post('/api/v1/tenants', { slug: 'drain', name: 'Drain' })).status, 201)
  const source = `export default { fetch() { const end = Date.now() + 2000; while (Date.now() < end) {} return new Response('finished') } }`
  t.equal((await post('/api/v1/scripts', { name: 'slow', type: 'http', source, http: { path: '/slow' } }, { 'x-tenant': 'drain' })).status, 201)

  const inFlight = fetch(`http://127.0.0.1:${dataPort}/drain/slow`)
  await new Promise((resolve) => setTimeout(resolve, 400))
  running.kill('SIGTERM')
  let readyDuringDrain = 0
  for (let i = 0; i < 40 && readyDuringDrain !== 503; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    readyDuringDrain = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.status, () => 0)
  }
  t.equal(readyDuringDrain, 503, 'readyz answers 503 while draining')
  const refused = await fetch(`http://127.0.0.1:${dataPort}/drain/slow`).then((r) => r.status, () => 'refused')
  t.equal(refused, 'refused', 'the data plane no longer accepts connections')
  const response = await inFlight
  t.equal(response.status, 200)
  t.equal(await response.text(), 'finished')
  t.same(await running.exited, { code: 0, signal: null })
})
