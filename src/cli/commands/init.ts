import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import { CliError } from '../errors.js'
import { runCommand } from '../context.js'
import { PROJECT_FILE } from '../project.js'

const EXAMPLE = `import type { ExportedHandler } from '../isogate.js'

/** Answers GET /hello?name=... with a greeting; env holds the variables of isogate.json. */
export default {
  async fetch(request, env, ctx) {
    const name = new URL(request.url).searchParams.get('name') ?? 'world'
    ctx.logger.info(\`greeting \${name}\`)
    return Response.json({ hello: name, greeting: env.GREETING })
  },
} satisfies ExportedHandler
`

const TSCONFIG = {
  compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], strict: true, noEmit: true, skipLibCheck: true },
  include: ['src', 'isogate.d.ts'],
}

/** `init`: a project file and a TypeScript example. */
export function initCommand(program: Command, io: CliIo): void {
  program
    .command('init')
    .description('Write isogate.json, a TypeScript example (src/index.ts), its types (isogate.d.ts) and a tsconfig.json')
    .argument('[name]', 'script name (default: the folder\'s name)')
    .option('--type <type>', 'http, scheduled, event, oneoff or embedded', 'http')
    .option('--path <path>', 'route of an http script', '/hello')
    .option('--force', 'overwrite existing files')
    .option('--json', 'print JSON')
    .action((given: string | undefined, options: { type: string; path: string; force?: boolean; json?: boolean }) =>
      runCommand(io, options, async ({ out }) => {
        if (!['http', 'scheduled', 'event', 'oneoff', 'embedded'].includes(options.type)) throw new CliError('INPUT_INVALID', '--type must be http, scheduled, event, oneoff or embedded')
        const name = given ?? path.basename(io.cwd).replace(/[^A-Za-z0-9._-]/g, '-')
        const project: Record<string, unknown> = { name, main: 'src/index.ts', type: options.type }
        if (options.type === 'http') project.route = { path: options.path, methods: ['GET'] }
        if (options.type === 'scheduled') project.cron = { expression: '*/5 * * * *', timezone: 'UTC' }
        if (options.type === 'event') project.events = ['example.created']
        project.limits = { timeoutMs: 10000 }
        project.env = { GREETING: 'hello from isogate' }
        const files: Record<string, string> = {
          [PROJECT_FILE]: `${JSON.stringify(project, null, 2)}\n`,
          'src/index.ts': EXAMPLE,
          'isogate.d.ts': readFileSync(`${fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/dist\/$/, '/')}runner/platform/isogate.d.ts`, 'utf8'),
          'tsconfig.json': `${JSON.stringify(TSCONFIG, null, 2)}\n`,
        }
        const written: string[] = []
        const kept: string[] = []
        for (const [file, text] of Object.entries(files)) {
          const target = path.resolve(io.cwd, file)
          if (existsSync(target) && options.force !== true) {
            kept.push(file)
            continue
          }
          mkdirSync(path.dirname(target), { recursive: true })
          writeFileSync(target, text)
          written.push(file)
        }
        out.result({ name, written, kept }, () =>
          [`Wrote ${written.join(', ') || 'nothing'}${kept.length > 0 ? ` (kept ${kept.join(', ')}; --force overwrites)` : ''}`, 'Next: isogate dev    (local, reloads on change)', '      isogate deploy (bundles and uploads)'].join('\n'),
        )
      }),
    )
}
