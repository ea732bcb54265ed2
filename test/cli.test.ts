import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { cliEnv, cliInProcess, jsonLines, projectDir, startCli } from './helpers/cli.js'
import { databaseTargets } from './helpers/databases.js'
import { ADMIN_TOKEN, api, startTestIsogate } from './helpers/isogate.js'
import { rootPath } from './helpers/paths.js'

const ENTRY = `import * as z from 'zod/mini'

const Greeting = z.object({ name: z.string().check(z.minLength(1)) })

interface Broken {
  deep?: { value: number }
}

export default {
  async fetch(request: Request, env: Record<string, string>): Promise<Response> {
    const url = new URL(request.url)
    if (url.searchParams.has('boom')) {
      const broken: Broken = {}
      return Response.json({ value: broken.deep!.value })
    }
    const parsed = Greeting.safeParse({ name: url.searchParams.get('name') ?? '' })
    if (!parsed.success) return Response.json({ error: 'name is required' }, { status: 400 })
    console.log('greeting', parsed.data.name)
    return Response.json({ hello: parsed.data.name, from: env.FROM })
  },
  async run(input: unknown, env: Record<string, string>) {
    return { echoed: input, token: env.TOKEN === undefined ? 'unset' : 'set' }
  },
}
`
const BOOM_LINE = ENTRY.split('\n').findIndex((line) => line.includes('broken.deep!.value')) + 1


// Each case starts a whole isogate (embedded database, runner processes): seconds, and over a
// minute on a machine shared by many test runs.
t.setTimeout(300_000)

const PROJECT = { name: 'greeter', main: 'src/index.ts', type: 'http', route: { path: '/greet', methods: ['GET'] }, env: { FROM: 'isogate' } }

for (const [index, target] of databaseTargets().entries()) {
  t.test(`the CLI against a real isogate on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl })
    t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'cli', name: 'CLI' } })).status, 201)
    const dir = projectDir(t, { 'isogate.json': JSON.stringify(PROJECT), 'src/index.ts': ENTRY })
    const env = cliEnv({ ISOGATE_URL: `http://127.0.0.1:${isogate.adminPort}`, ISOGATE_TOKEN: ADMIN_TOKEN, ISOGATE_TENANT: 'cli', XDG_CONFIG_HOME: path.join(dir, '.config') })
    const cli = (args: string[], input?: string) => cliInProcess(args, { cwd: dir, env, ...(input === undefined ? {} : { input }) })
    const json = async (args: string[], input?: string) => {
      const result = await cli([...args, '--json'], input)
      t.doesNotThrow(() => JSON.parse(result.stdout), `isogate ${args.join(' ')} --json prints JSON`)
      return { ...result, body: JSON.parse(result.stdout) }
    }

    t.test('a TypeScript entry importing zod/mini deploys and is served; a runtime error points at the TS file and line', async (t) => {
      const deployed = await json(['deploy'])
      t.equal(deployed.code, 0, deployed.stderr)
      t.match(deployed.body, { script: 'greeter', version: 1, created: true, url: `http://127.0.0.1:${isogate.dataPort}/cli/greet` })
      t.ok(deployed.body.bundleBytes > 1000, 'the bundle holds zod')

      const served = await fetch(`${deployed.body.url}?name=Ada`)
      t.equal(served.status, 200)
      t.same(await served.json(), { hello: 'Ada', from: 'isogate' })
      t.match(served.headers.get('isogate-execution-id'), /^[0-9a-f-]{36}$/, 'a success carries its execution id')
      t.equal((await fetch(deployed.body.url)).status, 400, 'zod refused the empty name inside the isolate')

      const failed = await fetch(`${deployed.body.url}?boom=1`)
      t.equal(failed.status, 500)
      const id = failed.headers.get('isogate-execution-id') as string
      t.equal(((await failed.json()) as any).error.executionId, id)
      // Records are written off the hot path, in batches: wait for this one (a 404 until then).
      let logs = await json(['logs', id])
      for (let tries = 0; logs.code === 4 && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        logs = await json(['logs', id])
      }
      t.equal(logs.code, 0)
      t.match(logs.body.error, { code: 'SCRIPT_ERROR', file: 'src/index.ts', line: BOOM_LINE, generated: { line: Number } })
      t.match(logs.body.error.stack, `src/index.ts:${BOOM_LINE}:`, 'the stack is in the TypeScript source too')
      t.match(logs.body, { method: 'GET', path: '/greet', httpStatus: 500 })
      const human = await cli(['logs', id])
      t.match(human.stdout, `at src/index.ts:${BOOM_LINE}:`, 'the human output names the file and line')

      const listed = await json(['executions', 'greeter', '--status', '5xx', '--method', 'get', '--path', '/greet'])
      t.equal(listed.code, 0)
      t.same(listed.body.items.map((item: any) => item.id), [id], 'only the failed run: filtered by script name, method, path and HTTP status class')
      t.match(listed.body.items[0], { method: 'GET', path: '/greet', httpStatus: 500 })
    })

    t.test('versions, rollback and run; secrets from stdin, never echoed', async (t) => {
      writeFileSync(path.join(dir, 'src/index.ts'), ENTRY.replace("'greeting'", "'hi'"))
      t.match((await json(['deploy'])).body, { version: 2, created: false })
      const versions = await json(['versions', 'greeter'])
      t.same(versions.body.items.map((v: any) => v.version), [2, 1])
      const rolled = await json(['rollback', 'greeter', '1'])
      t.match(rolled.body, { version: 3, rolledBackTo: 1 })

      const put = await cli(['secret', 'put', 'greeter', 'TOKEN', '--json'], 's3cret-value\n')
      t.equal(put.code, 0, put.stderr)
      t.notMatch(put.stdout + put.stderr, 's3cret-value', 'the value is never printed')
      t.same(JSON.parse(put.stdout).secrets, ['TOKEN'])
      t.same((await json(['secret', 'list', 'greeter'])).body, { script: 'greeter', secrets: ['TOKEN'] })
      const run = await json(['run', 'greeter', '--input', '{"n":1}'])
      t.equal(run.code, 0)
      t.match(run.body, { status: 'completed', trigger: 'manual', output: { echoed: { n: 1 }, token: 'set' } })
      t.same((await json(['secret', 'delete', 'greeter', 'TOKEN'])).body.secrets, [])
      const missing = await json(['secret', 'delete', 'greeter', 'TOKEN'])
      t.equal(missing.code, 4, 'deleting a missing secret exits 4')
      t.equal(missing.body.error.code, 'SECRET_NOT_FOUND')
    })

    // What follows is the same on either database: run it once.
    if (index > 0) return

    t.test('tail receives a run within 1 s of its request', async (t) => {
      const tail = startCli(['tail', 'greeter', '--format', 'json'], { cwd: dir, env })
      t.teardown(() => tail.kill('SIGKILL'))
      await jsonLines(tail, (line) => line.type === 'ready', 60_000)
      // A warm isolate, so the second's time is the tail's and not a cold start's on a busy machine.
      await (await fetch(`http://127.0.0.1:${isogate.dataPort}/cli/greet?name=Warm`)).text()
      const sent = performance.now()
      const answered = await fetch(`http://127.0.0.1:${isogate.dataPort}/cli/greet?name=Tail`)
      const id = answered.headers.get('isogate-execution-id')
      const event = await jsonLines(tail, (line) => line.type === 'run' && line.id === id)
      const ms = performance.now() - sent
      t.ok(ms < 1000, `the tail saw the run ${Math.round(ms)} ms after the request`)
      t.match(event, { script: 'greeter', trigger: 'http', method: 'GET', path: '/greet', status: 200, outcome: 'ok', logs: [{ message: /Tail/ }] })
    })

    t.test('login, whoami, init; errors exit with their meaning and --json stays JSON', async (t) => {
      const own = cliEnv({ XDG_CONFIG_HOME: path.join(dir, '.config-login') })
      const login = await cliInProcess(['login', '--url', `http://127.0.0.1:${isogate.adminPort}`, '--token', ADMIN_TOKEN, '--tenant', 'cli', '--json'], { cwd: dir, env: own })
      t.equal(login.code, 0, login.stderr)
      const saved = JSON.parse(login.stdout).saved
      t.equal((await import('node:fs')).statSync(saved).mode & 0o777, 0o600, 'the login is readable by its user only')
      const whoami = await cliInProcess(['whoami', '--json'], { cwd: dir, env: own })
      t.match(JSON.parse(whoami.stdout), { role: 'superadmin', tenant: 'cli', dataPlane: { url: `http://127.0.0.1:${isogate.dataPort}/cli` } })
      const bad = await cliInProcess(['login', '--url', `http://127.0.0.1:${isogate.adminPort}`, '--token', 'igk_wrong', '--json'], { cwd: dir, env: own })
      t.equal(bad.code, 3, 'a refused key exits 3')
      t.equal(JSON.parse(bad.stdout).error.code, 'UNAUTHORIZED')

      const fresh = projectDir(t, {})
      const init = await cliInProcess(['init', 'fresh', '--json'], { cwd: fresh, env: own })
      t.equal(init.code, 0, init.stderr)
      t.same(JSON.parse(init.stdout).written.sort(), ['isogate.d.ts', 'isogate.json', 'src/index.ts', 'tsconfig.json'])
      t.match(JSON.parse(readFileSync(path.join(fresh, 'isogate.json'), 'utf8')), { name: 'fresh', type: 'http', route: { path: '/hello' } })
      const deployed = await cliInProcess(['deploy', '--json'], { cwd: fresh, env: own })
      t.equal(deployed.code, 0, `the example deploys: ${deployed.stderr}`)
      const hello = await fetch(`${JSON.parse(deployed.stdout).url}?name=x`)
      t.match(await hello.json(), { hello: 'x', greeting: 'hello from isogate' })

      const unknown = await cli(['run', 'nope', '--json'])
      t.equal(unknown.code, 4)
      t.equal(JSON.parse(unknown.stdout).error.code, 'SCRIPT_NOT_FOUND')
      const usage = await cli(['rollback', 'greeter'])
      t.equal(usage.code, 2, 'a missing argument exits 2')
    })
  })
}

t.test('the isogate bin answers --help from any folder, as npx and a global install run it', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const bin = rootPath('src/cli/isogate.mjs')
  const elsewhere = projectDir(t, {})
  const help = spawnSync(bin, ['--help'], { cwd: elsewhere, env: cliEnv({}), encoding: 'utf8', timeout: 60_000 })
  t.equal(help.status, 0, help.stderr)
  for (const command of ['login', 'whoami', 'init', 'deploy', 'dev', 'tail', 'run', 'versions', 'rollback', 'executions', 'logs', 'secret']) t.match(help.stdout, new RegExp(`\\n  ${command}\\b`), `${command} is listed`)
  const sub = spawnSync(bin, ['secret', 'put', '--help'], { cwd: elsewhere, env: cliEnv({}), encoding: 'utf8', timeout: 60_000 })
  t.match(sub.stdout, /value comes from stdin/)
})
