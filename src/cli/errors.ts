/**
 * Errors of the CLI. Each has a stable code and the exit code the process ends with, so scripts
 * can tell a refused deploy from an unreachable server.
 */
export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The thing asked failed: a run failed, the server answered an error it could not avoid. */
  FAILED: 1,
  /** The command line or a file is wrong (also a 400 from the server). */
  USAGE: 2,
  /** Not logged in, or the key is refused (401, 403). */
  AUTH: 3,
  /** What was named does not exist (404). */
  NOT_FOUND: 4,
  /** The server cannot be reached. */
  UNREACHABLE: 5,
} as const

export const CLI_ERROR_CODES = {
  NOT_LOGGED_IN: { exit: EXIT.AUTH, message: 'Not logged in: run `isogate login --url <control plane> --token <key>` or set ISOGATE_URL and ISOGATE_TOKEN' },
  SERVER_UNREACHABLE: { exit: EXIT.UNREACHABLE, message: 'The isogate control plane cannot be reached' },
  PROJECT_INVALID: { exit: EXIT.USAGE, message: 'The project file is not valid' },
  PROJECT_NOT_FOUND: { exit: EXIT.USAGE, message: 'No isogate.json here or in a parent folder: run `isogate init`' },
  BUNDLE_FAILED: { exit: EXIT.USAGE, message: 'The entry does not bundle' },
  INPUT_INVALID: { exit: EXIT.USAGE, message: 'An argument is not valid' },
  RUN_FAILED: { exit: EXIT.FAILED, message: 'The run failed' },
  SECRET_NOT_FOUND: { exit: EXIT.NOT_FOUND, message: 'The script has no secret of this name' },
  DEV_FAILED: { exit: EXIT.FAILED, message: 'The local dev server could not build or start' },
  CLI_INTERNAL: { exit: EXIT.FAILED, message: 'The CLI failed unexpectedly' },
} as const

export type CliErrorCode = keyof typeof CLI_ERROR_CODES

/** A failure the CLI reports as `error CODE: message` (or JSON with --json) and exits with its code. */
export class CliError extends Error {
  override readonly name = 'CliError'
  readonly code: string
  readonly exitCode: number
  readonly details: unknown

  constructor(code: CliErrorCode | string, message?: string, options: { exitCode?: number; details?: unknown; cause?: unknown } = {}) {
    const known = (CLI_ERROR_CODES as Record<string, { exit: number; message: string }>)[code]
    super(message ?? known?.message ?? code, { cause: options.cause })
    this.code = code
    this.exitCode = options.exitCode ?? known?.exit ?? EXIT.FAILED
    this.details = options.details
  }
}

/** The exit code of a server error, by HTTP status. */
export function exitForStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.AUTH
  if (status === 404) return EXIT.NOT_FOUND
  if (status >= 400 && status < 500 && status !== 409 && status !== 429) return EXIT.USAGE
  return EXIT.FAILED
}
