import os from 'node:os'
import path from 'node:path'

/** What the `isogate` CLI reads from its environment (this folder is the only reader of process.env). */
export interface CliEnvironment {
  /** ISOGATE_URL: the control plane, over a saved login. */
  url: string | undefined
  /** ISOGATE_TOKEN: an API key, over a saved login. */
  token: string | undefined
  /** ISOGATE_TENANT: the tenant a superadmin key acts on, over a saved login. */
  tenant: string | undefined
  /** Where the login is saved: $XDG_CONFIG_HOME/isogate, else ~/.config/isogate. */
  configDir: string
  /** NO_COLOR set: plain output. */
  noColor: boolean
}

export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const value = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name])
  const base = value('XDG_CONFIG_HOME') ?? path.join(os.homedir(), '.config')
  return {
    url: value('ISOGATE_URL'),
    token: value('ISOGATE_TOKEN'),
    tenant: value('ISOGATE_TENANT'),
    configDir: path.join(base, 'isogate'),
    noColor: value('NO_COLOR') !== undefined,
  }
}
