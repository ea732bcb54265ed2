import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { CliEnvironment } from '../../config/cli.js'
import { CliError } from './errors.js'

/** Where the CLI talks to and as whom. */
export interface Credentials {
  url: string
  token: string
  /** The tenant a superadmin key acts on (X-Tenant); a tenant key needs none. */
  tenant?: string | undefined
}

export function credentialsFile(env: CliEnvironment): string {
  return path.join(env.configDir, 'credentials.json')
}

/** The saved login, each field overridden by ISOGATE_URL, ISOGATE_TOKEN, ISOGATE_TENANT. */
export function loadCredentials(env: CliEnvironment): Credentials {
  let saved: Partial<Credentials> = {}
  try {
    saved = JSON.parse(readFileSync(credentialsFile(env), 'utf8')) as Partial<Credentials>
  } catch (error) {
    // No saved login is the usual first state; only an unreadable file is worth saying.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError('NOT_LOGGED_IN', `${credentialsFile(env)} cannot be read: ${(error as Error).message}`)
  }
  const url = env.url ?? saved.url
  const token = env.token ?? saved.token
  if (url === undefined || token === undefined) throw new CliError('NOT_LOGGED_IN')
  return { url: url.replace(/\/+$/, ''), token, tenant: env.tenant ?? saved.tenant }
}

/** Saves a login readable by this user only (0600, in a 0700 folder). */
export function saveCredentials(env: CliEnvironment, credentials: Credentials): string {
  mkdirSync(env.configDir, { recursive: true, mode: 0o700 })
  const file = credentialsFile(env)
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return file
}
