import type { CliEnvironment } from '../../config/cli.js'
import { ApiClient } from './api-client.js'
import { loadCredentials } from './credentials.js'
import { CliError } from './errors.js'
import { Output } from './output.js'
import type { CliIo } from './io.js'

/** What every command gets: the environment, the output, and the API once it is needed. */
export interface CliContext {
  io: CliIo
  env: CliEnvironment
  out: Output
  api(): ApiClient
}

export function cliContext(io: CliIo, options: { json?: boolean | undefined }): CliContext {
  const env = io.env
  const out = new Output({ json: options.json === true, color: io.stdout.isTTY === true && !env.noColor, stdout: io.stdout, stderr: io.stderr })
  let client: ApiClient | null = null
  return { io, env, out, api: () => (client ??= new ApiClient(loadCredentials(env))) }
}

/** A script of the tenant by its name (ids work too). */
export async function findScript(api: ApiClient, name: string): Promise<any | null> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(name)) {
    try {
      return await api.get(`/scripts/${name}`)
    } catch (error) {
      if (error instanceof CliError && error.code === 'SCRIPT_NOT_FOUND') return null
      throw error
    }
  }
  let cursor: string | null = null
  do {
    const page: { items: any[]; nextCursor: string | null } = await api.get(`/scripts?q=${encodeURIComponent(name)}&limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    const found = page.items.find((script) => script.name === name)
    if (found !== undefined) return found
    cursor = page.nextCursor
  } while (cursor !== null)
  return null
}

export async function requireScript(api: ApiClient, name: string): Promise<any> {
  const script = await findScript(api, name)
  if (script === null) throw new CliError('SCRIPT_NOT_FOUND', `No script named ${name}`, { exitCode: 4 })
  return script
}

/** Parses a JSON argument, or says which one is wrong. */
export function jsonArgument(name: string, text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new CliError('INPUT_INVALID', `${name} must be JSON: ${(error as Error).message}`)
  }
}

/** Runs a command body: the result or the failure, and the exit code. */
export async function runCommand(io: CliIo, options: { json?: boolean | undefined }, body: (ctx: CliContext) => Promise<number | void>): Promise<void> {
  const ctx = cliContext(io, options)
  try {
    const code = await body(ctx)
    io.exitCode = code ?? 0
  } catch (error) {
    io.exitCode = ctx.out.fail(error)
  }
}
