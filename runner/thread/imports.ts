import { parse, type Node } from 'acorn'
import { RunnerError } from '../errors.js'
import { pointer } from './source-location.js'

const MENTIONS_IMPORT = /\bimport\b/

interface Found {
  specifier: string | null
  line: number
  column: number
}

/**
 * Scripts are self-contained: refuses `import ... from`, `export ... from` and `import()`. V8 lists a
 * module's static imports itself, but nothing tells of `import()`, which inside the isolate only
 * fails at run time with a bare "Not supported"; so the source is parsed (acorn) to find it, and
 * only when the word `import` appears at all. Returns null when the source imports nothing, or
 * when acorn cannot parse it (V8 then judges the syntax).
 */
export function importError(source: string): RunnerError | null {
  if (!MENTIONS_IMPORT.test(source)) return null
  let program: Node
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'module', locations: true })
  } catch {
    return null
  }
  const found = findImport(program)
  if (found === null) return null
  const location = { line: found.line, column: found.column }
  const what = found.specifier === null ? 'dynamic import()' : `import of "${found.specifier}"`
  return new RunnerError(
    'SCRIPT_IMPORT_FORBIDDEN',
    `${what} is not allowed: scripts are self-contained modules (line ${found.line}, column ${found.column})`,
    { ...location, pointer: pointer(source, location) },
  )
}

function findImport(root: Node): Found | null {
  const stack: unknown[] = [root]
  let first: Found | null = null
  while (stack.length > 0) {
    const node = stack.pop()
    if (node === null || typeof node !== 'object') continue
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i])
      continue
    }
    const { type, source, loc } = node as { type?: unknown; source?: { value?: unknown } | null; loc?: { start: { line: number; column: number } } }
    if (typeof type !== 'string') continue
    const isStatic = (type === 'ImportDeclaration' || type === 'ExportAllDeclaration' || type === 'ExportNamedDeclaration') && source != null
    if ((isStatic || type === 'ImportExpression') && loc !== undefined) {
      const found = { specifier: isStatic ? String(source?.value) : null, line: loc.start.line, column: loc.start.column + 1 }
      if (first === null || found.line < first.line || (found.line === first.line && found.column < first.column)) first = found
    }
    for (const key of Object.keys(node)) {
      if (key !== 'loc') stack.push((node as Record<string, unknown>)[key])
    }
  }
  return first
}
