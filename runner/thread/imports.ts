import { createRequire } from 'node:module'
import type { Node } from 'acorn'
import { RunnerError } from '../errors.js'
import { pointer } from './source-location.js'

const MENTIONS_IMPORT = /\bimport\b/

/**
 * acorn, loaded by the first source that mentions `import`: most programs never need it, and
 * loading it is ~13 ms of CPU in every worker thread's start (a runner started after a crash
 * pays it twice, once a thread).
 */
let acorn: typeof import('acorn') | undefined
const require = createRequire(import.meta.url)

/**
 * The `node:` built-ins a script may import (statically, no flag needed), as Workers'
 * nodejs_compat offers them, with the names each exports besides `default`. Each is a platform
 * chunk (runner/platform/node-*.js) loaded on the first import in a context.
 */
export const NODE_MODULES: Readonly<Record<string, readonly string[]>> = {
  'node:assert': ['AssertionError', 'ok', 'equal', 'notEqual', 'strictEqual', 'notStrictEqual', 'deepEqual', 'notDeepEqual', 'deepStrictEqual', 'notDeepStrictEqual', 'match', 'doesNotMatch', 'throws', 'doesNotThrow', 'rejects', 'fail', 'strict'],
  'node:buffer': ['Buffer', 'SlowBuffer', 'INSPECT_MAX_BYTES', 'kMaxLength', 'constants', 'atob', 'btoa', 'Blob', 'File'],
  'node:crypto': ['createHash', 'createHmac', 'randomUUID', 'getRandomValues', 'randomBytes', 'timingSafeEqual', 'webcrypto', 'subtle', 'getHashes', 'Hash', 'Hmac'],
  'node:events': ['EventEmitter', 'once', 'defaultMaxListeners'],
  'node:util': ['promisify', 'callbackify', 'inherits', 'format', 'inspect', 'types', 'isDeepStrictEqual', 'TextEncoder', 'TextDecoder'],
}

export function isNodeModule(specifier: string): boolean {
  return Object.hasOwn(NODE_MODULES, specifier)
}

/**
 * The source of the small module that stands for `node:name` in a program: it takes the platform
 * chunk's exports from the function the platform put under `key` for this evaluation.
 */
export function nodeModuleSource(specifier: string, key: string): string {
  const names = NODE_MODULES[specifier] ?? []
  const name = specifier.slice('node:'.length)
  return `const m = globalThis[${JSON.stringify(key)}](${JSON.stringify(name)});\nexport default m.default;\nexport const { ${names.join(', ')} } = m;\n`
}

interface Found {
  specifier: string | null
  line: number
  column: number
}

/**
 * Scripts are self-contained but for the `node:` built-ins above: refuses any other
 * `import ... from` or `export ... from`, and every `import()`. V8 lists a
 * module's static imports itself, but nothing tells of `import()`, which inside the isolate only
 * fails at run time with a bare "Not supported"; so the source is parsed (acorn) to find it, and
 * only when the word `import` appears at all. Returns null when the source imports nothing, or
 * when acorn cannot parse it (V8 then judges the syntax).
 */
export function importError(source: string): RunnerError | null {
  if (!MENTIONS_IMPORT.test(source)) return null
  let program: Node
  try {
    acorn ??= require('acorn') as typeof import('acorn')
    program = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'module', locations: true })
  } catch {
    return null
  }
  const found = findImport(program)
  if (found === null) return null
  const location = { line: found.line, column: found.column }
  const what = found.specifier === null ? 'dynamic import()' : `import of "${found.specifier}"`
  const allowed = Object.keys(NODE_MODULES).join(', ')
  return new RunnerError(
    'SCRIPT_IMPORT_FORBIDDEN',
    `${what} is not allowed: scripts are self-contained modules that may import only ${allowed} (line ${found.line}, column ${found.column})`,
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
    if ((isStatic || type === 'ImportExpression') && loc !== undefined && !(isStatic && isNodeModule(String(source?.value)))) {
      const found = { specifier: isStatic ? String(source?.value) : null, line: loc.start.line, column: loc.start.column + 1 }
      if (first === null || found.line < first.line || (found.line === first.line && found.column < first.column)) first = found
    }
    for (const key of Object.keys(node)) {
      if (key !== 'loc') stack.push((node as Record<string, unknown>)[key])
    }
  }
  return first
}
