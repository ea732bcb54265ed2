// The isolate's platform: installs the web globals, then hands the host two functions
// (register a program's handlers, dispatch a run) and removes every trace of the hand-over.
// Only plain data crosses in either direction.
import './install-encoding.js'
import { URL, URLSearchParams } from 'whatwg-url'
import { createConsole, createLogger } from './console.js'
import { atob, btoa } from './encoding.js'
import { Headers, headerPairs } from './headers.js'
import { lockdown } from './lockdown.js'
import { Request } from './request.js'
import { Response } from './response.js'
import { kBody } from './body.js'

const global = globalThis
const HANDLER_KINDS = ['fetch', 'scheduled', 'event', 'run']

const globals = { URL, URLSearchParams, atob, btoa, Headers, Request, Response }
for (const name of Object.keys(globals)) {
  Object.defineProperty(global, name, { value: globals[name], writable: true, configurable: true, enumerable: false })
}
Object.defineProperty(global, 'self', { value: global, writable: true, configurable: true, enumerable: false })

let current = null
function write(level, message) {
  if (current !== null) current.log(level, message)
}
Object.defineProperty(global, 'console', { value: createConsole(write), writable: true, configurable: true, enumerable: false })

lockdown(global)

class Run {
  constructor() {
    this.logs = []
    this.waitUntil = []
  }
  log(level, message) {
    this.logs.push({ level, message, time: Date.now() })
  }
}

const programs = new Map()

function register(programId, namespace) {
  const handlers = namespace.default
  if (handlers === null || (typeof handlers !== 'object' && typeof handlers !== 'function')) {
    throw new TypeError('the script must `export default` an object with handlers such as fetch(request, env, ctx)')
  }
  const found = {}
  for (const kind of HANDLER_KINDS) {
    if (typeof handlers[kind] === 'function') found[kind] = handlers[kind]
  }
  programs.set(programId, { handlers, found })
  return Object.keys(found)
}

function unregister(programId) {
  programs.delete(programId)
}

function errorData(error) {
  if (error instanceof Error) {
    return { name: String(error.name), message: String(error.message), stack: String(error.stack ?? ''), code: typeof error.code === 'string' ? error.code : undefined }
  }
  return { name: 'Error', message: `Uncaught ${typeof error === 'string' ? error : format(error)}`, stack: '' }
}

function format(value) {
  try { return JSON.stringify(value) } catch { return String(value) }
}

function toRequest(input) {
  let body = null
  if (input.body !== null && input.body !== undefined) body = typeof input.body === 'string' ? input.body : new Uint8Array(input.body)
  const request = new Request(input.url, { method: input.method, headers: input.headers, params: input.params })
  request[kBody] = body
  return request
}

function bodyForHost(response) {
  const body = response[kBody]
  if (body === null || typeof body === 'string') return body
  return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)
}

function jsonSafe(value) {
  if (value === undefined) return null
  const text = JSON.stringify(value)
  return text === undefined ? null : JSON.parse(text)
}

async function dispatch(programId, kind, input, envData) {
  const run = new Run()
  current = run
  const program = programs.get(programId)
  const handler = program && program.found[kind]
  if (!handler) {
    return { error: { name: 'Error', code: 'HANDLER_NOT_FOUND', message: `the script has no ${kind} handler`, stack: '' }, logs: run.logs }
  }
  const env = Object.freeze({ ...envData })
  const ctx = Object.freeze({
    logger: createLogger((level, message) => run.log(level, message)),
    waitUntil(promise) { run.waitUntil.push(Promise.resolve(promise)) },
    passThroughOnException() {},
  })
  try {
    let result
    if (kind === 'fetch') {
      const response = await handler.call(program.handlers, toRequest(input), env, ctx)
      current = run
      if (!(response instanceof Response)) {
        throw new TypeError(`fetch handler must return a Response, got ${response === null ? 'null' : typeof response}`)
      }
      result = { response: { status: response.status, headers: headerPairs(response.headers), body: bodyForHost(response) } }
    } else {
      const output = await handler.call(program.handlers, input, env, ctx)
      current = run
      result = { output: jsonSafe(output) }
    }
    if (run.waitUntil.length > 0) await Promise.allSettled(run.waitUntil)
    result.logs = run.logs
    return result
  } catch (error) {
    return { error: errorData(error), logs: run.logs }
  }
}

Object.defineProperty(global, '__isogate', {
  value: Object.freeze({ register, unregister, dispatch }),
  configurable: true,
  enumerable: false,
  writable: false,
})
