// Builds the web console's browser assets into dist/console/ (served by src/console/assets.ts):
//
//   htmx.min.js   htmx from the htmx.org package, as published
//   editor.js     CodeMirror 6 with JavaScript, lint and completion (loaded on editor pages only)
//   console.js    the few behaviours every page has (type-specific fields, the live tail)
//   console.css   the stylesheet
//
// The editor's completions for `ctx`, `controller`, `event` and `request` come from isogate's
// own script types (runner/platform/isogate.d.ts), read here with the TypeScript compiler API, so
// the editor offers exactly what the platform declares.
import { build } from 'esbuild'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = fileURLToPath(new URL('../..', import.meta.url))
const outDir = resolve(root, 'dist/console')
const clientDir = resolve(root, 'src/console/client')
const require = createRequire(import.meta.url)

/** `{ 'ctx': [{label, type, detail, info}], 'ctx.db': [...] }` from the declared interfaces. */
export async function scriptCompletions() {
  const file = resolve(root, 'runner/platform/isogate.d.ts')
  const source = ts.createSourceFile(file, await readFile(file, 'utf8'), ts.ScriptTarget.ES2022, true)
  const interfaces = new Map()
  source.forEachChild(function visit(node) {
    if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node)
    node.forEachChild(visit)
  })
  const docOf = (node) => (node.jsDoc ?? []).map((doc) => (typeof doc.comment === 'string' ? doc.comment : '')).join(' ').trim()
  const members = (name) =>
    (interfaces.get(name)?.members ?? [])
      .filter((member) => member.name !== undefined)
      .map((member) => {
        const isMethod = ts.isMethodSignature(member)
        const typeText = isMethod
          ? `(${member.parameters.map((p) => p.getText(source)).join(', ')})${member.type ? `: ${member.type.getText(source)}` : ''}`
          : (member.type?.getText(source) ?? '')
        const ref = member.type && ts.isTypeReferenceNode(member.type) ? member.type.typeName.getText(source) : null
        const info = docOf(member) || (ref !== null && interfaces.has(ref) ? docOf(interfaces.get(ref)) : '')
        return { label: member.name.getText(source), type: isMethod ? 'method' : 'property', detail: typeText, info, ref }
      })
  const roots = { ctx: 'Context', controller: 'ScheduledController', event: 'IsogateEvent' }
  const table = {}
  const walk = (path, name, depth) => {
    const list = members(name)
    if (list.length === 0 || depth > 3) return
    table[path] = list.map(({ ref: _ref, ...item }) => item)
    for (const item of list) if (item.ref && interfaces.has(item.ref) && item.type === 'property') walk(`${path}.${item.label}`, item.ref, depth + 1)
  }
  for (const [variable, name] of Object.entries(roots)) walk(variable, name, 0)
  table.request = [{ label: 'params', type: 'property', detail: 'Readonly<Record<string, string>>', info: 'Named route parameters' }]
  return table
}

export async function buildConsoleAssets() {
  await mkdir(outDir, { recursive: true })
  const completions = await scriptCompletions()
  const common = { absWorkingDir: root, bundle: true, format: 'iife', target: 'es2020', minify: true, logLevel: 'warning', legalComments: 'none' }
  await build({ ...common, entryPoints: [resolve(clientDir, 'editor.js')], outfile: resolve(outDir, 'editor.js'), define: { ISOGATE_COMPLETIONS: JSON.stringify(completions) } })
  await build({ ...common, entryPoints: [resolve(clientDir, 'console.js')], outfile: resolve(outDir, 'console.js') })
  await copyFile(require.resolve('htmx.org/dist/htmx.min.js'), resolve(outDir, 'htmx.min.js'))
  await copyFile(resolve(clientDir, 'console.css'), resolve(outDir, 'console.css'))
  // Served compressed to browsers that accept gzip (the editor is ~500 KB, ~170 KB gzipped).
  for (const name of ['htmx.min.js', 'editor.js', 'console.js', 'console.css']) {
    await writeFile(resolve(outDir, `${name}.gz`), gzipSync(await readFile(resolve(outDir, name)), { level: 9 }))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildConsoleAssets()
