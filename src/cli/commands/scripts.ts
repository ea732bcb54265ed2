import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import { CliError, EXIT } from '../errors.js'
import { jsonArgument, requireScript, runCommand } from '../context.js'
import type { Output } from '../output.js'

/** `run`, `versions`, `rollback`, `executions`, `logs`. */
export function scriptCommands(program: Command, io: CliIo): void {
  program
    .command('run')
    .description("Run a script's run(input, env, ctx) handler now and print its output and logs (exit 1 when the run fails)")
    .argument('<script>', 'script name')
    .option('--input <json>', 'the input, as JSON')
    .option('--json', 'print JSON')
    .action((name: string, options: { input?: string; json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const input = jsonArgument('--input', options.input)
        const client = api()
        const script = await requireScript(client, name)
        const record = await client.post(`/scripts/${script.id}/run`, input === undefined ? {} : { input })
        out.result(record, () => showExecution(out, record))
        return record.status === 'completed' ? EXIT.OK : EXIT.FAILED
      }),
    )

  program
    .command('versions')
    .description('List the versions of a script, newest first')
    .argument('<script>', 'script name')
    .option('--json', 'print JSON')
    .action((name: string, options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const client = api()
        const script = await requireScript(client, name)
        const page = await client.get(`/scripts/${script.id}/versions?limit=100`)
        out.result({ script: script.name, current: script.version, items: page.items }, () =>
          page.items.map((v: any) => `${v.version === script.version ? '*' : ' '} v${v.version}  ${new Date(v.createdAt).toISOString()}  ${String(v.sourceHash).slice(0, 12)}`).join('\n') || '(no versions)',
        )
      }),
    )

  program
    .command('rollback')
    .description("Make the next version of a script with an earlier version's source (history is kept)")
    .argument('<script>', 'script name')
    .argument('<version>', 'the version to go back to')
    .option('--json', 'print JSON')
    .action((name: string, version: string, options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const number = Number(version.replace(/^v/, ''))
        if (!Number.isInteger(number) || number < 1) throw new CliError('INPUT_INVALID', 'version must be a positive integer')
        const client = api()
        const script = await requireScript(client, name)
        const updated = await client.post(`/scripts/${script.id}/rollback`, { version: number })
        out.result({ script: updated.name, id: updated.id, version: updated.version, rolledBackTo: number }, () => `${updated.name} is at version ${updated.version} (the source of version ${number})`)
      }),
    )

  program
    .command('executions')
    .description('List runs, newest first, with method, path and status')
    .argument('[script]', 'script name')
    .option('--status <status>', 'completed, failed, timeout, ... or an HTTP status (500) or class (5xx)')
    .option('--method <method>', 'HTTP method')
    .option('--path <path>', 'request path (a trailing * matches a prefix)')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action((name: string | undefined, options: { status?: string; method?: string; path?: string; limit: string; json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const query = new URLSearchParams({ limit: options.limit })
        if (name !== undefined) query.set('script', name)
        for (const key of ['status', 'method', 'path'] as const) if (options[key] !== undefined) query.set(key, options[key] as string)
        const page = await api().get(`/executions?${query}`)
        out.result(page, () =>
          page.items
            .map((e: any) => `${new Date(e.createdAt).toISOString()}  ${e.id}  ${e.trigger.padEnd(6)} ${out.status(e.httpStatus, e.status === 'completed').padEnd(3)} ${e.status.padEnd(9)} ${`${e.method ?? ''} ${e.path ?? ''}`.trim().padEnd(24)} ${e.durationMs === null ? '' : `${e.durationMs.toFixed(1)} ms`}${e.error ? `  ${e.error.code}` : ''}`)
            .join('\n') || '(no executions)',
        )
      }),
    )

  program
    .command('logs')
    .description("Show one run: its logs, error (in your source, through the deployed source map) and metrics")
    .argument('<execution-id>', 'from isogate executions, the tail, or the isogate-execution-id response header')
    .option('--json', 'print JSON')
    .action((id: string, options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const record = await api().get(`/executions/${encodeURIComponent(id)}`)
        out.result(record, () => showExecution(out, record))
      }),
    )
}

/** A run for people: status line, logs, error with its place, output. */
export function showExecution(out: Output, record: any): string {
  const lines = [
    `${record.id}  ${record.trigger}  ${record.method ?? ''} ${record.path ?? ''}  ${out.status(record.httpStatus, record.status === 'completed')} ${record.status}  ${record.durationMs === null ? '' : `${Number(record.durationMs).toFixed(1)} ms`}`.replace(/ {2,}/g, '  '),
  ]
  for (const entry of record.logs ?? []) lines.push(`  ${out.dim(String(entry.level).padEnd(5))} ${entry.message}`)
  if (record.error) lines.push(formatError(out, record.error))
  if (record.output !== null && record.output !== undefined) lines.push(`output ${JSON.stringify(record.output, null, 2)}`)
  return lines.join('\n')
}

export function formatError(out: Output, error: any): string {
  const where = error.file !== undefined ? ` at ${error.file}:${error.line}:${error.column}` : error.line !== undefined && error.line !== null ? ` at line ${error.line}, column ${error.column}` : ''
  const stack = typeof error.stack === 'string' ? `\n${error.stack.split('\n').filter((line: string) => line.startsWith('    at ')).join('\n')}` : ''
  return `${out.red(error.code)} ${error.message}${where}${stack}`
}
