// Generates runner/platform/isogate-globals.d.ts: the declarations of exactly the globals the
// isolate has, taken from TypeScript's own lib.dom.d.ts (so they match what editors know) with
// the types they reference, and nothing else: no window, document, caches, WebSocket, ... A
// script compiled with `"lib": ["ES2022"]` and isogate.d.ts then fails to compile when it uses an
// API isogate does not have. `node runner/platform-types.mjs` rewrites the file;
// test/platform-types.test.ts checks it is in step with this list and with the isolate.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const ts = require('typescript')

/** Globals declared as lib.dom has them (a `declare var` or `declare function` and its types). */
export const DOM_GLOBALS = [
  'AbortController', 'AbortSignal', 'Blob', 'ByteLengthQueuingStrategy', 'CompressionStream', 'CountQueuingStrategy', 'Crypto', 'CryptoKey',
  'CustomEvent', 'DOMException', 'DecompressionStream', 'Event', 'EventTarget', 'File', 'FormData', 'Headers', 'ReadableByteStreamController',
  'ReadableStream', 'ReadableStreamBYOBReader', 'ReadableStreamDefaultController', 'ReadableStreamDefaultReader', 'Request', 'Response',
  'SubtleCrypto', 'TextDecoder', 'TextDecoderStream', 'TextEncoder', 'TextEncoderStream', 'TransformStream', 'URL', 'URLSearchParams',
  'WritableStream', 'WritableStreamDefaultWriter', 'atob', 'btoa', 'clearInterval', 'clearTimeout', 'crypto', 'fetch', 'queueMicrotask',
  'setInterval', 'setTimeout', 'structuredClone',
]

/** Globals isogate declares itself: lib.dom's are the browser's (Navigator, Performance, Console, self are far larger there). */
const OWN_DECLARATIONS = `
/** What a run writes to its logs. */
interface Console {
  debug(...data: any[]): void
  error(...data: any[]): void
  info(...data: any[]): void
  log(...data: any[]): void
  trace(...data: any[]): void
  warn(...data: any[]): void
}
declare var console: Console

/** Milliseconds since the context began, coarsened to whole milliseconds (as Workers coarsens its clock). */
interface Performance {
  readonly timeOrigin: number
  now(): number
  toJSON(): { timeOrigin: number }
}
declare var performance: Performance

interface Navigator {
  /** \`isogate\` */
  readonly userAgent: string
  readonly hardwareConcurrency: number
  readonly language: string
  readonly languages: readonly string[]
}
declare var navigator: Navigator

/** Workers' scheduler: \`await scheduler.wait(ms)\` is an awaitable setTimeout. */
interface Scheduler {
  wait(ms?: number): Promise<void>
}
declare var scheduler: Scheduler

interface SubtleCrypto {
  /** Cloudflare's extension: compares two buffers of one length in constant time (a TypeError for different lengths). */
  timingSafeEqual(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean
}

type URLPatternInput = string | URLPatternInit
interface URLPatternInit {
  protocol?: string
  username?: string
  password?: string
  hostname?: string
  port?: string
  pathname?: string
  search?: string
  hash?: string
  baseURL?: string
}
interface URLPatternComponentResult {
  input: string
  groups: Record<string, string | undefined>
}
interface URLPatternResult {
  inputs: URLPatternInput[]
  protocol: URLPatternComponentResult
  username: URLPatternComponentResult
  password: URLPatternComponentResult
  hostname: URLPatternComponentResult
  port: URLPatternComponentResult
  pathname: URLPatternComponentResult
  search: URLPatternComponentResult
  hash: URLPatternComponentResult
}
interface URLPattern {
  readonly protocol: string
  readonly username: string
  readonly password: string
  readonly hostname: string
  readonly port: string
  readonly pathname: string
  readonly search: string
  readonly hash: string
  readonly hasRegExpGroups: boolean
  test(input?: URLPatternInput, baseURL?: string): boolean
  exec(input?: URLPatternInput, baseURL?: string): URLPatternResult | null
}
declare var URLPattern: {
  prototype: URLPattern
  new (input?: URLPatternInput, baseURL?: string, options?: { ignoreCase?: boolean }): URLPattern
  new (input: URLPatternInput, options?: { ignoreCase?: boolean }): URLPattern
}

declare var self: typeof globalThis

/** isogate's structuredClone has no \`transfer\`. */
interface StructuredSerializeOptions {}
`

const OWN_DECLARED = new Set(['Console', 'Performance', 'Navigator', 'Scheduler', 'StructuredSerializeOptions'])

/** Globals the isolate has that are declared above, not taken from lib.dom. */
export const OWN_GLOBALS = ['URLPattern', 'console', 'navigator', 'performance', 'scheduler', 'self']

/** Types lib.dom's declarations reach that stay out: their members are browser-only. */
const CUT = new Set(['StructuredSerializeOptions', 'Transferable', 'Window', 'Document', 'Element', 'HTMLFormElement', 'HTMLElement', 'Node', 'ServiceWorker', 'MessagePort', 'Worker', 'Console', 'Performance', 'Navigator', 'Scheduler'])

export function generate() {
  const path = require.resolve('typescript/lib/lib.dom.d.ts')
  const text = readFileSync(path, 'utf8')
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true)
  /** name -> statements (interfaces merge, so there may be several) */
  const types = new Map()
  const values = new Map()
  const add = (map, name, node) => map.set(name, [...(map.get(name) ?? []), node])
  for (const statement of file.statements) {
    if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) add(types, statement.name.text, statement)
    else if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) add(values, d.name.getText(file), statement)
    else if (ts.isFunctionDeclaration(statement) && statement.name) add(values, statement.name.text, statement)
  }
  const keep = new Set()
  const keptTypes = new Set()
  const queue = []
  const absent = new Set()
  const needType = (name) => {
    if (CUT.has(name)) absent.add(name)
    if (keptTypes.has(name) || CUT.has(name) || !types.has(name)) return
    keptTypes.add(name)
    for (const node of types.get(name)) {
      keep.add(node)
      queue.push(node)
    }
  }
  for (const name of DOM_GLOBALS) {
    const declared = values.get(name)
    if (declared === undefined) throw new Error(`lib.dom.d.ts declares no global ${name}`)
    for (const node of declared) {
      keep.add(node)
      queue.push(node)
    }
    needType(name)
  }
  while (queue.length > 0) {
    const node = queue.pop()
    const visit = (child) => {
      if (ts.isTypeReferenceNode(child) || ts.isExpressionWithTypeArguments(child)) {
        const target = ts.isTypeReferenceNode(child) ? child.typeName : child.expression
        needType(target.getText(file).split('.')[0])
      } else if (ts.isTypeQueryNode(child)) {
        needType(child.exprName.getText(file))
      }
      ts.forEachChild(child, visit)
    }
    ts.forEachChild(node, visit)
  }
  // Keep lib.dom's order: declarations read as they do there.
  const kept = file.statements.filter((statement) => keep.has(statement)).map((statement) => {
    if (!ts.isFunctionDeclaration(statement)) return statement.getText(file)
    return statement.getText(file)
  })
  return [
    '// Generated by runner/platform-types.mjs from TypeScript\'s lib.dom.d.ts: the globals isogate\'s',
    '// isolates have, and only those. Do not edit; run `node runner/platform-types.mjs`.',
    '/* eslint-disable */',
    '',
    ...kept,
    '',
    '// Declared by isogate (runner/platform-types.mjs).',
    OWN_DECLARATIONS.trim(),
    '',
    '// Browser types lib.dom\'s signatures above name (FormData\'s form element, ...): there are none here.',
    ...[...absent].filter((name) => !OWN_DECLARED.has(name)).sort().map((name) => `interface ${name} { readonly __notInIsogate: never }`),
    '',
  ].join('\n')
}

export const OUTPUT = fileURLToPath(new URL('./platform/isogate-globals.d.ts', import.meta.url))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OUTPUT, generate())
}
