import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { accountCommands } from './commands/account.js'
import { deployCommand } from './commands/deploy.js'
import { devCommand } from './commands/dev.js'
import { initCommand } from './commands/init.js'
import { scriptCommands } from './commands/scripts.js'
import { secretCommands } from './commands/secrets.js'
import { tailCommand } from './commands/tail.js'
import { EXIT } from './errors.js'
import type { CliIo } from './io.js'

// src/cli/program.ts, or dist/src/cli/program.js when built: the package root is two or three folders up.
const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/$/, '/')
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }

/**
 * The `isogate` CLI: deploy TypeScript with npm packages, tail runs live, develop locally,
 * manage versions and secrets. Human output by default, `--json` for scripts; exit codes in
 * src/cli/errors.ts (0 ok, 1 failed, 2 usage, 3 auth, 4 not found, 5 unreachable).
 *
 * @example
 * const io = processIo()
 * await runCli(['deploy', '--json'], io)
 * process.exitCode = io.exitCode
 */
export function cliProgram(io: CliIo): Command {
  const program = new Command('isogate')
    .description('Deploy, run and watch isogate scripts')
    .version(version)
    .showHelpAfterError('(isogate <command> --help for its options)')
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    // Commander's own ends (help, version, a wrong command line) become exit codes, not process.exit;
    // subcommands inherit this and the output streams.
    .exitOverride()
  accountCommands(program, io)
  initCommand(program, io)
  deployCommand(program, io)
  devCommand(program, io)
  tailCommand(program, io)
  scriptCommands(program, io)
  secretCommands(program, io)
  return program
}

/** Runs one command line (without `node isogate`); answers the exit code, also left in `io.exitCode`. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  try {
    await cliProgram(io).parseAsync([...args], { from: 'user' })
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    io.exitCode = error.exitCode === 0 ? EXIT.OK : EXIT.USAGE
  }
  return io.exitCode
}
