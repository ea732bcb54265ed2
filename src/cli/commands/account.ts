import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import { ApiClient } from '../api-client.js'
import { saveCredentials } from '../credentials.js'
import { CliError } from '../errors.js'
import { runCommand } from '../context.js'

/** `login` and `whoami`. */
export function accountCommands(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('Save the control plane URL and API key (0600 in your config folder); ISOGATE_URL / ISOGATE_TOKEN / ISOGATE_TENANT override it')
    .requiredOption('--url <url>', 'control plane URL, e.g. http://127.0.0.1:8081')
    .requiredOption('--token <key>', 'an API key (igk_...)')
    .option('--tenant <slug>', 'the tenant a superadmin key acts on')
    .option('--json', 'print JSON')
    .action((options: { url: string; token: string; tenant?: string; json?: boolean }) =>
      runCommand(io, options, async ({ env, out }) => {
        if (!/^https?:\/\//.test(options.url)) throw new CliError('INPUT_INVALID', '--url must start with http:// or https://')
        const credentials = { url: options.url.replace(/\/+$/, ''), token: options.token, tenant: options.tenant }
        const me = await new ApiClient(credentials).get('/whoami')
        const file = saveCredentials(env, credentials)
        out.result({ ...me, url: credentials.url, saved: file }, () => `Logged in to ${credentials.url} as ${me.role}${me.tenant === null ? '' : ` of ${me.tenant}`} (saved in ${file})`)
      }),
    )

  program
    .command('whoami')
    .description('Show the control plane, the key\'s role and tenant')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const client = api()
        const me = await client.get('/whoami')
        out.result({ ...me, url: client.url }, () => `${client.url}\n  role    ${me.role}\n  tenant  ${me.tenant ?? '(none: pass --tenant at login)'}\n  serves  ${me.dataPlane?.url ?? '-'}`)
      }),
    )
}
