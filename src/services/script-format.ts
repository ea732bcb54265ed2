import { parse, type Node } from 'acorn'
import type { ScriptType } from '../domain/script.js'
import { AppError } from '../errors.js'

/** The handler each script type runs (`POST /scripts/{id}/run` runs `run` where there is one). */
export const REQUIRED_HANDLER: Record<ScriptType, string> = {
  http: 'fetch',
  scheduled: 'scheduled',
  event: 'event',
  oneoff: 'run',
  embedded: 'run',
}

const EXAMPLE: Record<string, string> = {
  fetch: 'export default { async fetch(request, env, ctx) { return new Response("hello") } }',
  scheduled: 'export default { async scheduled(controller, env, ctx) { /* ... */ } }',
  event: 'export default { async event(event, env, ctx) { /* ... */ } }',
  run: 'export default { async run(input, env, ctx) { return { ok: true } } }',
}

interface Found {
  line: number
  column: number
}

type AnyNode = Node & Record<string, unknown>

/**
 * Deploy-time checks of a script's shape, after it compiled: the module format Workers use
 * (`export default { fetch }`), not CommonJS (`module.exports = ...`) nor service-worker syntax
 * (`addEventListener('fetch', ...)`), and a default export with the handler its type needs.
 * Each refusal is a 400 whose message says what to write instead. Only what can be read from the
 * source is judged: a default export built at run time (a spread, a call) is left to the runner.
 */
export function checkScriptFormat(source: string, type: ScriptType): void {
  let program: AnyNode
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'module', locations: true }) as unknown as AnyNode
  } catch {
    // V8 accepted it (the compile check ran first) but acorn does not: leave it to the runner.
    return
  }
  const body = program.body as AnyNode[]
  const handler = REQUIRED_HANDLER[type]
  const exported = defaultExport(body)
  if (exported === null) {
    const serviceWorker = findServiceWorker(program)
    if (serviceWorker !== null) {
      throw formatError('SCRIPT_FORMAT_UNSUPPORTED', `Service-worker syntax (addEventListener("${serviceWorker.event}", ...)) is not supported (line ${serviceWorker.line}, column ${serviceWorker.column}): write an ES module instead, ${EXAMPLE[handler]}`, serviceWorker)
    }
    const commonJs = findCommonJs(program)
    if (commonJs !== null) {
      throw formatError('SCRIPT_FORMAT_UNSUPPORTED', `CommonJS (module.exports / exports.x) is not supported (line ${commonJs.line}, column ${commonJs.column}): write an ES module instead, ${EXAMPLE[handler]}`, commonJs)
    }
    throw formatError('SCRIPT_HANDLER_MISSING', `The script has no default export: a ${type} script must export its ${handler} handler, ${EXAMPLE[handler]}`, null, handler)
  }
  const keys = objectKeys(exported, body)
  if (keys === null || keys.has(handler)) return
  const where = exported.loc === null || exported.loc === undefined ? null : { line: exported.loc.start.line, column: exported.loc.start.column + 1 }
  const has = keys.size === 0 ? 'no handlers' : `${[...keys].join(', ')}`
  throw formatError('SCRIPT_HANDLER_MISSING', `A ${type} script needs a ${handler} handler in its default export, which has ${has}: ${EXAMPLE[handler]}`, where, handler)
}

function formatError(code: 'SCRIPT_FORMAT_UNSUPPORTED' | 'SCRIPT_HANDLER_MISSING', message: string, where: Found | null, handler?: string): AppError {
  return new AppError(code, message, { field: 'source', ...(where === null ? {} : { line: where.line, column: where.column }), ...(handler === undefined ? {} : { handler }) })
}

/** The default export's value node, or null when the module has none. */
function defaultExport(body: AnyNode[]): AnyNode | null {
  for (const node of body) {
    if (node.type === 'ExportDefaultDeclaration') return node.declaration as AnyNode
    if (node.type === 'ExportNamedDeclaration' && Array.isArray(node.specifiers)) {
      for (const specifier of node.specifiers as AnyNode[]) {
        const exportedName = specifier.exported as AnyNode
        if ((exportedName.name ?? exportedName.value) === 'default') return specifier.local as AnyNode
      }
    }
  }
  return null
}

/** The property names of an object literal default export (through one top-level const), or null when unknown. */
function objectKeys(node: AnyNode, body: AnyNode[], depth = 0): Set<string> | null {
  if (node.type === 'Identifier' && depth === 0) {
    const init = topLevelInit(body, node.name as string)
    return init === null ? null : objectKeys(init, body, depth + 1)
  }
  if (node.type === 'ClassDeclaration' || node.type === 'ClassExpression') {
    // `export default class { static fetch() {} }` is odd but valid; instance methods are not handlers.
    const keys = new Set<string>()
    for (const member of (node.body as AnyNode).body as AnyNode[]) {
      if (member.static === true) {
        const name = keyName(member)
        if (name === null) return null
        keys.add(name)
      }
    }
    return keys
  }
  if (node.type !== 'ObjectExpression') return null
  const keys = new Set<string>()
  for (const property of node.properties as AnyNode[]) {
    if (property.type !== 'Property') return null
    const name = keyName(property)
    if (name === null) return null
    keys.add(name)
  }
  return keys
}

function keyName(property: AnyNode): string | null {
  const key = property.key as AnyNode
  if (property.computed === true) return key.type === 'Literal' ? String(key.value) : null
  if (key.type === 'Identifier') return key.name as string
  if (key.type === 'Literal') return String(key.value)
  return null
}

function topLevelInit(body: AnyNode[], name: string): AnyNode | null {
  for (const node of body) {
    const declaration = node.type === 'ExportNamedDeclaration' ? (node.declaration as AnyNode | null) : node
    if (declaration?.type !== 'VariableDeclaration') continue
    for (const declarator of declaration.declarations as AnyNode[]) {
      if ((declarator.id as AnyNode).type === 'Identifier' && (declarator.id as AnyNode).name === name) return (declarator.init as AnyNode | null) ?? null
    }
  }
  return null
}

function walk(root: AnyNode, visit: (node: AnyNode) => boolean): void {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const node = stack.pop()
    if (node === null || typeof node !== 'object') continue
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i])
      continue
    }
    const n = node as AnyNode
    if (typeof n.type !== 'string') continue
    if (visit(n)) return
    for (const key of Object.keys(n)) if (key !== 'loc') stack.push(n[key])
  }
}

function at(node: AnyNode): Found {
  return { line: node.loc?.start.line ?? 1, column: (node.loc?.start.column ?? 0) + 1 }
}

/** `addEventListener('fetch' | 'scheduled', ...)`, bare or on self/globalThis. */
function findServiceWorker(program: AnyNode): (Found & { event: string }) | null {
  let found: (Found & { event: string }) | null = null
  walk(program, (node) => {
    if (node.type !== 'CallExpression') return false
    const callee = node.callee as AnyNode
    const name = callee.type === 'Identifier' ? callee.name : callee.type === 'MemberExpression' && (callee.property as AnyNode).type === 'Identifier' ? (callee.property as AnyNode).name : null
    const first = (node.arguments as AnyNode[])[0]
    if (name === 'addEventListener' && first?.type === 'Literal' && (first.value === 'fetch' || first.value === 'scheduled')) {
      found = { ...at(node), event: String(first.value) }
      return true
    }
    return false
  })
  return found
}

/** An assignment to `module.exports`, `module.exports.x` or `exports.x`. */
function findCommonJs(program: AnyNode): Found | null {
  let found: Found | null = null
  const isCommonJsTarget = (node: AnyNode): boolean => {
    if (node.type !== 'MemberExpression') return false
    const object = node.object as AnyNode
    const property = node.property as AnyNode
    if (object.type === 'Identifier' && object.name === 'module' && property.type === 'Identifier' && property.name === 'exports') return true
    if (object.type === 'Identifier' && object.name === 'exports') return true
    return isCommonJsTarget(object)
  }
  walk(program, (node) => {
    if (node.type === 'AssignmentExpression' && isCommonJsTarget(node.left as AnyNode)) {
      found = at(node)
      return true
    }
    return false
  })
  return found
}
