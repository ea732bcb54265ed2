import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, watch, type FSWatcher } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import { ApiClient } from '../api-client.js'
import { bundler } from '../bundle.js'
import { CliError } from '../errors.js'
import { runCommand } from '../context.js'
import { loadProject, scriptMetadata } from '../project.js'
import { upload } from './deploy.js'
import { showRun } from './tail.js'
import { formatError } from './scripts.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/dist\/$/, '/')
/** Folders whose changes never reload: dependencies are read at bundle time, but an install is not an edit. */
const IGNORED = /(^|\/)(node_modules|\.git|dist|\.isogate[^/]*)(\/|$)/

/** The isolate platform must be bundled once (a clone that was only installed has not). */
function ensurePlatform(progress: (message: string) => void): void {
  if (existsSync(path.join(ROOT, 'dist/platform/platform.js'))) return
  progress('building the isolate platform (once) ...')
  const built = spawnSync(process.execPath, [path.join(ROOT, 'runner/platform-build.mjs')], { stdio: ['ignore', 'ignore', 'pipe'] })
  if (built.status !== 0) throw new CliError('DEV_FAILED', `the isolate platform did not build: ${built.stderr.toString().slice(0, 500)}`)
}

/** `dev [entry]`. */
export function devCommand(program: Command, io: CliIo): void {
  program
    .command('dev')
    .description('Run the script locally with the same isolate runtime and limits, no database to set up (a throwaway embedded one); rebuilds and reloads on every change')
    .argument('[entry]', 'entry file (default: main in isogate.json)')
    .option('--port <port>', 'port to serve on (0 picks one)', '8787')
    .option('--json', 'one JSON object a line: ready, reload, run, error')
    .action((entry: string | undefined, options: { port: string; json?: boolean }) =>
      runCommand(io, options, async ({ out }) => {
        const project = loadProject(io.cwd)
        const port = Number(options.port)
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('INPUT_INVALID', '--port must be a port number')
        ensurePlatform((message) => out.progress(message))
        out.progress('starting ...')
        // Loaded here, not at the top: the other commands never need the server.
        const [{ startIsogate }, { loadConfig }] = await Promise.all([import('../../app.js'), import('../../../config/index.js')])
        const dataDir = mkdtempSync(path.join(os.tmpdir(), 'isogate-dev-'))
        const token = `igk_dev_${randomBytes(16).toString('hex')}`
        const isogate = await startIsogate(
          loadConfig({ host: '127.0.0.1', port, adminPort: 0, dataDir, adminToken: token, demo: false, logLevel: 'warn', accessLogLevel: 'silent', runners: 1, runnerStandby: 0, workers: 1 }),
        )
        const api = new ApiClient({ url: `http://127.0.0.1:${isogate.adminPort}`, token, tenant: 'dev' })
        const closers: Array<() => unknown> = [() => isogate.close(), () => rmSync(dataDir, { recursive: true, force: true })]
        let watcher: FSWatcher | null = null
        try {
          await api.post('/tenants', { slug: 'dev', name: 'isogate dev' })
          const build = await bundler(project.root, entry ?? project.main)
          closers.unshift(() => build.dispose())
          let version = 0
          let known: { id: string; meta: string } | null = null
          const reload = async (reason: string): Promise<void> => {
            const started = performance.now()
            try {
              const bundled = await build.rebuild()
              // isogate.json may have changed too (route, env, limits): read it again.
              const current = loadProject(project.root)
              const { script } = await upload(api, current, bundled, known ?? undefined)
              known = { id: script.id, meta: JSON.stringify(scriptMetadata(current)) }
              const ms = Math.round(performance.now() - started)
              if (script.version !== version) {
                version = script.version
                out.line({ type: 'reload', version, ms, reason }, () => out.green(`${reason === 'start' ? 'ready' : `reloaded (${reason})`}: version ${version} in ${ms} ms`))
              }
            } catch (error) {
              const cli = error instanceof CliError ? error : new CliError('DEV_FAILED', (error as Error).message)
              out.line({ type: 'error', code: cli.code, message: cli.message, details: cli.details }, () => `${out.red(cli.code)} ${cli.message}${(cli.details as any)?.file ? ` at ${(cli.details as any).file}:${(cli.details as any).line}:${(cli.details as any).column}` : ''}\n  (still serving the last version that worked)`)
            }
          }
          await reload('start')
          // Subscribed before "ready" is printed, so the first request after it is shown too.
          let isSubscribed = (): void => undefined
          const subscribed = new Promise<void>((resolve) => {
            isSubscribed = resolve
          })
          const tail = await api.socket('/tail', (data) => {
            isSubscribed()
            const event = JSON.parse(String(data))
            if (event.type === 'run') out.line(event, () => showRun(out, event))
            else if (event.type === 'error') out.line(event, () => formatError(out, event))
          })
          closers.unshift(() => tail.close())
          await subscribed
          const url = project.route === undefined ? null : `http://127.0.0.1:${isogate.dataPort}/dev${project.route.path.replace(/\/\*$/, '/')}`
          out.line({ type: 'ready', url, port: isogate.dataPort, version }, () => `serving ${project.name} at ${url ?? `http://127.0.0.1:${isogate.dataPort}/dev/ (a ${project.type} script: isogate run works against the dev server's tenant)`}`)
          // One rebuild at a time; changes during a rebuild make one more.
          let timer: NodeJS.Timeout | null = null
          let running: Promise<void> | null = null
          let again: string | null = null
          const schedule = (file: string): void => {
            if (timer !== null) clearTimeout(timer)
            timer = setTimeout(() => {
              timer = null
              if (running !== null) {
                again = file
                return
              }
              const next = (reason: string): void => {
                running = reload(reason).finally(() => {
                  running = null
                  if (again !== null) {
                    const file = again
                    again = null
                    next(file)
                  }
                })
              }
              next(file)
            }, 25)
          }
          // The entry's folder (recursively) and the project file: never node_modules, which an install fills with thousands of folders.
          const sourceDir = path.dirname(path.resolve(project.root, entry ?? project.main))
          const sources = watch(sourceDir, { recursive: sourceDir !== project.root }, (_event, file) => {
            if (file === null || IGNORED.test(file)) return
            schedule(path.relative(project.root, path.join(sourceDir, file)))
          })
          const projectFile = watch(project.file, () => schedule(path.basename(project.file)))
          watcher = { close: () => { sources.close(); projectFile.close() } } as FSWatcher
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve)
            process.once('SIGTERM', resolve)
          })
          out.progress('stopping ...')
        } finally {
          watcher?.close()
          for (const close of closers) {
            try {
              await close()
            } catch (error) {
              out.progress(`while stopping: ${(error as Error).message}`)
            }
          }
        }
      }),
    )
}
