import type { Command } from 'commander'
import type { CliIo } from '../io.js'
import type { ApiClient } from '../api-client.js'
import { bundle, type Bundle } from '../bundle.js'
import { findScript, runCommand } from '../context.js'
import { loadProject, scriptMetadata, type Project } from '../project.js'

/** What a deploy answers (the JSON of `deploy --json`). */
export interface DeployResult {
  script: string
  id: string
  version: number
  created: boolean
  url: string | null
  bundleBytes: number
}

/** Creates or updates the project's script from a bundle: a module upload (its source map inline), metadata as JSON. */
export async function upload(api: ApiClient, project: Project, built: Bundle, known?: { id: string; meta: string }): Promise<{ script: any; created: boolean }> {
  const meta = scriptMetadata(project)
  // `dev` knows its script and what metadata it last sent: a code change is then one request.
  if (known !== undefined) {
    if (known.meta !== JSON.stringify(meta)) await api.patch(`/scripts/${known.id}`, meta)
    return { script: await api.request('PATCH', `/scripts/${known.id}`, built.code, 'application/javascript'), created: false }
  }
  const existing = await findScript(api, project.name)
  if (existing === null) {
    const query = new URLSearchParams({ name: project.name, type: project.type })
    if (project.route !== undefined) {
      query.set('path', project.route.path)
      query.set('methods', project.route.methods.map((method) => method.toUpperCase()).join(','))
    }
    if (project.cron !== undefined) {
      query.set('cron', project.cron.expression)
      query.set('timezone', project.cron.timezone)
    }
    if (project.events !== undefined) query.set('events', project.events.join(','))
    let script = await api.request('POST', `/scripts?${query}`, built.code, 'application/javascript')
    if (Object.keys(project.limits ?? {}).length > 0 || Object.keys(project.env ?? {}).length > 0) {
      script = await api.patch(`/scripts/${script.id}`, { limits: meta.limits, env: meta.env })
    }
    return { script, created: true }
  }
  // Metadata first (no new version), then the module: a changed bundle makes the next version.
  await api.patch(`/scripts/${existing.id}`, meta)
  const script = await api.request('PATCH', `/scripts/${existing.id}`, built.code, 'application/javascript')
  return { script, created: false }
}

/** The URL an http script is served at, from the control plane's answer to whoami. */
export async function scriptUrl(api: ApiClient, project: Project): Promise<string | null> {
  if (project.type !== 'http' || project.route === undefined) return null
  const me = await api.get('/whoami')
  const base: string | null = me.dataPlane?.url ?? null
  return base === null ? null : `${base}${project.route.path.replace(/\/\*$/, '/')}`
}

/** `deploy [entry]`. */
export function deployCommand(program: Command, io: CliIo): void {
  program
    .command('deploy')
    .description('Bundle the entry (TypeScript, npm packages, tree-shaken ESM, source map) and upload it as the next version')
    .argument('[entry]', 'entry file (default: main in isogate.json)')
    .option('--json', 'print JSON')
    .action((entry: string | undefined, options: { json?: boolean }) =>
      runCommand(io, options, async ({ out, api }) => {
        const project = loadProject(io.cwd)
        const main = entry ?? project.main
        out.progress(`bundling ${main} ...`)
        const started = performance.now()
        const built = await bundle(project.root, main)
        for (const warning of built.warnings) out.progress(`warning: ${warning}`)
        out.progress(`bundled ${(built.bytes / 1024).toFixed(1)} KiB in ${Math.round(performance.now() - started)} ms; uploading ...`)
        const client = api()
        const { script, created } = await upload(client, project, built)
        const url = await scriptUrl(client, project)
        const result: DeployResult = { script: script.name, id: script.id, version: script.version, created, url, bundleBytes: built.bytes }
        out.result(result, () => `${out.green('Deployed')} ${script.name} version ${script.version}${created ? ' (new script)' : ''}${url === null ? '' : `\n  ${url}`}`)
      }),
    )
}
