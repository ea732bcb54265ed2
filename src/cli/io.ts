import type { Readable, Writable } from 'node:stream'
import { cliEnvironment, type CliEnvironment } from '../../config/cli.js'

/**
 * Where a CLI run reads and writes, and where it runs: the process's own streams, or a test's.
 * Commands never touch process.stdout, process.cwd() or process.env themselves.
 */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
  stdout: Writable & { isTTY?: boolean }
  stderr: Writable
  cwd: string
  env: CliEnvironment
  /** Set by the command that ran: the process's exit code. */
  exitCode: number
}

export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: cliEnvironment(), exitCode: 0 }
}
