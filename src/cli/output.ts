import type { Writable } from 'node:stream'
import { CliError, EXIT } from './errors.js'

/**
 * What a command prints: human lines by default, one JSON document with `--json` (a stream of
 * JSON lines for `tail` and `dev`). Progress goes to stderr, so stdout stays the result.
 */
export class Output {
  readonly json: boolean
  readonly #color: boolean
  readonly #stdout: Writable
  readonly #stderr: Writable

  constructor(options: { json: boolean; color: boolean; stdout: Writable; stderr: Writable }) {
    this.json = options.json
    this.#color = options.color
    this.#stdout = options.stdout
    this.#stderr = options.stderr
  }

  /** The command's result: `human` in a terminal, `data` as JSON with --json. */
  result(data: unknown, human: () => string): void {
    this.#stdout.write(this.json ? `${JSON.stringify(data)}\n` : `${human()}\n`)
  }

  /** One line of a stream (tail, dev). */
  line(data: unknown, human: () => string): void {
    this.#stdout.write(this.json ? `${JSON.stringify(data)}\n` : `${human()}\n`)
  }

  /** A long step under way (stderr; quiet with --json). */
  progress(message: string): void {
    if (!this.json) this.#stderr.write(`${this.dim(message)}\n`)
  }

  /** Reports a failure and answers the exit code. */
  fail(error: unknown): number {
    const cli = error instanceof CliError ? error : new CliError('CLI_INTERNAL', (error as Error)?.message ?? String(error), { exitCode: EXIT.FAILED })
    if (this.json) this.#stdout.write(`${JSON.stringify({ error: { code: cli.code, message: cli.message, ...(cli.details === undefined ? {} : { details: cli.details }) } })}\n`)
    else {
      this.#stderr.write(`${this.red('error')} ${cli.code}: ${cli.message}\n`)
      const fields = (cli.details as { fields?: Array<{ field: string; message: string }> } | undefined)?.fields
      if (Array.isArray(fields)) for (const field of fields) this.#stderr.write(`  ${field.field}: ${field.message}\n`)
      const pointer = (cli.details as { pointer?: string } | undefined)?.pointer
      if (typeof pointer === 'string') this.#stderr.write(`${pointer}\n`)
    }
    return cli.exitCode
  }

  red(text: string): string {
    return this.#color ? `\x1b[31m${text}\x1b[0m` : text
  }

  green(text: string): string {
    return this.#color ? `\x1b[32m${text}\x1b[0m` : text
  }

  yellow(text: string): string {
    return this.#color ? `\x1b[33m${text}\x1b[0m` : text
  }

  dim(text: string): string {
    return this.#color ? `\x1b[2m${text}\x1b[0m` : text
  }

  /** A status colored by class: 2xx green, 4xx yellow, 5xx and errors red. */
  status(status: number | null, ok: boolean): string {
    const text = status === null ? (ok ? 'ok' : 'error') : String(status)
    if (!ok || (status !== null && status >= 500)) return this.red(text)
    if (status !== null && status >= 400) return this.yellow(text)
    return this.green(text)
  }
}
