import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { moduleUrl } from './helpers/paths.js'

const run = promisify(execFile)

/**
 * A module resolve hook that refuses acorn and tr46 to `import` (not to `require`): a module that
 * imports either at its top then fails to load.
 */
const REFUSE_IMPORTS = `data:text/javascript,${encodeURIComponent(
  `export async function resolve(specifier, context, next) {
    if (/^(acorn|tr46)(\\/|$)/.test(specifier) && context.conditions.includes('import')) throw new Error('imported ' + specifier)
    return next(specifier, context)
  }`,
)}`

t.test("a worker thread's modules load acorn (a script's imports) and tr46 (IDNA) only when a script needs them, not at the thread's start", async (t) => {
  // A runner started after a crash starts every thread again; the two were ~35 ms of CPU in each.
  const probe = `
    import { register } from 'node:module'
    register(${JSON.stringify(REFUSE_IMPORTS)})
    const { importError } = await import(${JSON.stringify(moduleUrl('runner/thread/imports.ts'))})
    const { domainToASCII } = await import(${JSON.stringify(moduleUrl('runner/thread/idna.ts'))})
    console.log(JSON.stringify({
      plain: importError('export default { fetch() { return new Response("hi") } }'),
      importing: importError('import x from "./x.js"\\nexport default x')?.code,
      idna: domainToASCII('bücher.example'),
    }))`
  const { stdout } = await run(process.execPath, [...process.execArgv, '--input-type=module', '-e', probe], { timeout: 60_000 })
  t.same(JSON.parse(stdout), { plain: null, importing: 'SCRIPT_IMPORT_FORBIDDEN', idna: 'xn--bcher-kva.example' })
})
