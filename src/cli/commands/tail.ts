import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import { CliError } from '../errors.js'
import { runCommand } from '../context.js'
import type { Output } from '../output.js'
import { formatError } from './scripts.js'

/** One tail line for people: time, script, request, status, duration, then logs and the error. */
export function showRun(out: Output, event: any): string {
  const request = event.method === null ? event.trigger : `${event.method} ${event.path}`
  const lines = [`${event.at.slice(11, 23)}  ${String(event.script ?? event.scriptId).padEnd(16)} ${request.padEnd(24)} ${out.status(event.status, event.outcome === 'ok')}  ${event.durationMs.toFixed(1)} ms  ${out.dim(event.id)}`]
  for (const entry of event.logs) lines.push(`    ${out.dim(String(entry.level).padEnd(5))} ${entry.message}`)
  if (event.error) lines.push(`    ${formatError(out, event.error).split('\n').join('\n    ')}`)
  return lines.join('\n')
}

/** `tail [script]`. */
export function tailCommand(program: Command, io: CliIo): void {
  program
    .command('tail')
    .description('Stream every run as it finishes (all of them, sampled into records or not); filters run on the server')
    .argument('[script]', 'script name (default: every script of the tenant)')
    .option('--status <ok|error>', 'only runs that succeeded or failed')
    .option('--method <method>', 'only HTTP runs of this method')
    .option('--search <text>', 'only runs with this text in a log line, the error or the path')
    .option('--format <pretty|json>', 'pretty lines, or one JSON object a line', 'pretty')
    .option('--json', 'same as --format json')
    .action((script: string | undefined, options: { status?: string; method?: string; search?: string; format: string; json?: boolean }) =>
      runCommand(io, { json: options.json === true || options.format === 'json' }, async ({ out, api }) => {
        if (!['pretty', 'json'].includes(options.format)) throw new CliError('INPUT_INVALID', '--format must be pretty or json')
        if (options.status !== undefined && !['ok', 'error'].includes(options.status)) throw new CliError('INPUT_INVALID', '--status must be ok or error')
        const query = new URLSearchParams()
        if (script !== undefined) query.set('script', script)
        for (const key of ['status', 'method', 'search'] as const) if (options[key] !== undefined) query.set(key, options[key] as string)
        const socket = await api().socket(`/tail${query.size > 0 ? `?${query}` : ''}`, (data) => {
          const event = JSON.parse(String(data))
          if (event.type === 'run') out.line(event, () => showRun(out, event))
          else if (event.type === 'dropped') out.line(event, () => out.yellow(`(${event.dropped} runs dropped: this client was too slow)`))
          // The server says ready once it is subscribed: runs from then on are all seen. (The
          // socket's open came before that: a run right after it could be missed.)
          else if (event.type === 'ready') {
            out.progress(`tailing ${script ?? 'every script'} (Ctrl-C stops)`)
            if (out.json) out.line({ type: 'ready' }, () => '')
          }
        })
        const stop = (): void => socket.close()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        await new Promise<void>((resolve) => {
          socket.on('close', () => resolve())
          if (socket.readyState === socket.CLOSED) resolve()
        })
      }),
    )
}
