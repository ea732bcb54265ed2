import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import { CliError } from '../errors.js'
import { requireScript, runCommand } from '../context.js'

/** Reads a secret's value: piped stdin whole (one trailing newline dropped), or typed at a prompt without echo. */
async function readSecret(io: CliIo, name: string): Promise<string> {
  const stdin = io.stdin
  if (!stdin.isTTY) {
    const chunks: Buffer[] = []
    for await (const chunk of stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
  }
  io.stderr.write(`value of ${name}: `)
  stdin.setRawMode?.(true)
  stdin.resume()
  return new Promise((resolve, reject) => {
    let value = ''
    const done = (result: string | Error): void => {
      stdin.setRawMode?.(false)
      stdin.pause()
      stdin.off('data', onData)
      io.stderr.write('\n')
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    const onData = (data: Buffer): void => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') return done(value)
        if (char === '\u0003') return done(new CliError('INPUT_INVALID', 'cancelled'))
        if (char === '\u007f') value = value.slice(0, -1)
        else value += char
      }
    }
    stdin.on('data', onData)
  })
}

/** `secret put | list | delete`. */
export function secretCommands(program: Command, io: CliIo): void {
  const secret = program.command('secret').description("A script's secrets: sealed at rest, never shown, redacted from logs")

  secret
    .command('put')
    .description('Set a secret; the value comes from stdin (piped, or typed without echo), never from the command line')
    .argument('<script>', 'script name')
    .argument('<name>', 'secret name (an identifier)')
    .option('--json', 'print JSON')
    .action((scriptName: string, name: string, options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new CliError('INPUT_INVALID', 'a secret name is an identifier (letters, digits, _)')
        const client = api()
        const script = await requireScript(client, scriptName)
        const value = await readSecret(io, name)
        if (value === '') throw new CliError('INPUT_INVALID', 'the secret value is empty')
        const updated = await client.patch(`/scripts/${script.id}`, { secrets: { [name]: value } })
        out.result({ script: updated.name, secret: name, secrets: updated.secrets }, () => `Secret ${name} of ${updated.name} is set`)
      }),
    )

  secret
    .command('list')
    .description("Names of a script's secrets (values are never read back)")
    .argument('<script>', 'script name')
    .option('--json', 'print JSON')
    .action((scriptName: string, options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const script = await requireScript(api(), scriptName)
        out.result({ script: script.name, secrets: script.secrets }, () => (script.secrets.length === 0 ? '(no secrets)' : script.secrets.join('\n')))
      }),
    )

  secret
    .command('delete')
    .description('Delete a secret')
    .argument('<script>', 'script name')
    .argument('<name>', 'secret name')
    .option('--json', 'print JSON')
    .action((scriptName: string, name: string, options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const client = api()
        const script = await requireScript(client, scriptName)
        if (!script.secrets.includes(name)) throw new CliError('SECRET_NOT_FOUND', `${script.name} has no secret ${name}`, { exitCode: 4 })
        const updated = await client.patch(`/scripts/${script.id}`, { secrets: { [name]: null } })
        out.result({ script: updated.name, deleted: name, secrets: updated.secrets }, () => `Secret ${name} of ${updated.name} is deleted`)
      }),
    )
}
