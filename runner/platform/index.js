// The isolate's platform. Running the bundle installs the web globals and evaluates to `boot`
// (the script's completion value: nothing is put on the global object for the host to find).
// The host calls `boot` once per context with its four References, an entropy seed and the names
// of the host APIs to expose, and gets back `register` and `dispatch`. Only plain data crosses.
import { isReadableStream, kBody, settledBody } from './body.js'
import { createConsole, createLogger, format } from './console.js'
import { atob, btoa, TextDecoder, TextEncoder, toBytes } from './encoding.js'
import { seedRandom } from './entropy.js'
import { Headers, headerPairs } from './headers.js'
import { abort, blob, compression, domException, events, extras, formData, streams, structuredCloneModule, urlPattern, webCrypto } from './lazy.js'
import { lockdown } from './lockdown.js'
import { createHttp, fetch } from './fetch.js'
import { HeaderText, Request, frozenCopy, requestFromHost } from './request.js'
import { Response } from './response.js'
import { Run } from './run.js'
import { answer, complete, connect, current, enter, hostCall, leave, newPromise, queueTask, resetCurrent, settleLeftovers, then } from './runtime.js'
import { clearInterval, clearTimeout, queueMicrotask, setInterval, setTimeout } from './timers.js'
import { webUrl } from './url.js'
import { loadChunk } from './chunks.js'

const global = globalThis
const HANDLER_KINDS = ['fetch', 'scheduled', 'event', 'run']

/** Taken before tenant code runs: a script that replaces JSON.parse or JSON.stringify does not get to see its runs' input or results. */
const parseJson = JSON.parse
const stringifyJson = JSON.stringify
const defineProperty = Object.defineProperty
const ObjectPrototype = Object.prototype
const ArrayPrototype = Array.prototype

function define(name, value) {
  Object.defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false })
}

const globals = {
  Headers, Request, Response, TextDecoder, TextEncoder, atob, btoa, clearInterval, clearTimeout, fetch, queueMicrotask, setInterval, setTimeout,
  console: createConsole((level, message) => { if (current !== null) current.log(level, message) }),
}
for (const name of Object.keys(globals)) define(name, globals[name])
// What most runs never touch is initialised on first use (see lazy.js): one object on the global
// object's prototype chain answers every such name, by a switch, and the value then becomes an own
// data property. An accessor pair per name cost ~12 KB in every context (34 names x two closures,
// their context and a load function); this costs one proxy. `'URL' in globalThis`, `typeof URL`
// and assignment behave as for an own property; what differs is only that an untouched name is
// not yet among Object.getOwnPropertyNames(globalThis).
function loadLazyGlobal(name) {
  switch (name) {
    case 'URL': case 'URLSearchParams': return webUrl()[name]
    case 'AbortController': case 'AbortSignal': return abort()[name]
    case 'DOMException': return domException()
    case 'Event': case 'EventTarget': case 'CustomEvent': return events()[name]
    case 'Crypto': case 'SubtleCrypto': case 'crypto': return webCrypto()[name]
    case 'structuredClone': return structuredCloneModule().structuredClone
    case 'CryptoKey': return loadChunk('subtle').CryptoKey
    case 'Blob': case 'File': return blob()[name]
    case 'FormData': return formData().FormData
    case 'ReadableStream': case 'ReadableStreamDefaultReader': case 'ReadableStreamBYOBReader': case 'ReadableByteStreamController':
    case 'ReadableStreamDefaultController': case 'WritableStream': case 'WritableStreamDefaultWriter': case 'TransformStream':
    case 'ByteLengthQueuingStrategy': case 'CountQueuingStrategy': case 'TextEncoderStream': case 'TextDecoderStream':
      return streams()[name]
    case 'CompressionStream': case 'DecompressionStream': return compression()[name]
    case 'URLPattern': return urlPattern().URLPattern
    case 'performance': case 'navigator': case 'scheduler': return extras()[name]
    default: return undefined
  }
}
/** The names loadLazyGlobal answers. */
const LAZY_GLOBALS = ' URL URLSearchParams AbortController AbortSignal DOMException Event EventTarget CustomEvent Crypto SubtleCrypto crypto structuredClone CryptoKey Blob File FormData ReadableStream ReadableStreamDefaultReader ReadableStreamBYOBReader ReadableByteStreamController ReadableStreamDefaultController WritableStream WritableStreamDefaultWriter TransformStream ByteLengthQueuingStrategy CountQueuingStrategy TextEncoderStream TextDecoderStream CompressionStream DecompressionStream URLPattern performance navigator scheduler '
const isLazy = (name) => typeof name === 'string' && name !== '' && !name.includes(' ') && LAZY_GLOBALS.includes(` ${name} `) && !Object.hasOwn(global, name)
Object.setPrototypeOf(global, new Proxy(Object.create(Object.getPrototypeOf(global)), {
  has: (target, name) => isLazy(name) || Reflect.has(target, name),
  // Reflect.ownKeys(Object.getPrototypeOf(globalThis)) lists the names not loaded yet.
  ownKeys: (target) => [...LAZY_GLOBALS.trim().split(' ').filter(isLazy), ...Reflect.ownKeys(target)],
  get(target, name, receiver) {
    if (!isLazy(name)) return Reflect.get(target, name, receiver)
    const value = loadLazyGlobal(name)
    define(name, value)
    return value
  },
}))
define('self', global)

lockdown(global)

/**
 * A program's number in this isolate (the host counts them from 1: tenant-isolate.ts) -> { handlers,
 * found } or { failure } (a program whose registration failed). A number, not the host's program id
 * text: a run names its program with it, and a text would be copied in and hashed again every run.
 */
const programs = new Map()
let canRespondEarly = false

// Records read by property lookups are null-prototype objects, so a tenant polluting
// Object.prototype cannot make the platform see a handler or a failure that is not there.
function failure(code, message) {
  return { __proto__: null, failure: { code, message } }
}

function register(programNumber, namespace) {
  try {
    const handlers = namespace.default
    if (handlers === null || (typeof handlers !== 'object' && typeof handlers !== 'function')) {
      programs.set(programNumber, failure('SCRIPT_INVALID_EXPORT', 'the script must `export default` an object with handlers such as fetch(request, env, ctx)'))
      return
    }
    const found = { __proto__: null }
    for (const kind of HANDLER_KINDS) {
      if (typeof handlers[kind] === 'function') found[kind] = handlers[kind]
    }
    programs.set(programNumber, { __proto__: null, handlers, found })
  } catch (error) {
    programs.set(programNumber, { __proto__: null, error: errorData(error) })
  }
}

/** What the host learns of a thrown value: name, message and stack as strings, whatever was thrown. */
function errorData(error) {
  try {
    if (error instanceof Error) {
      return { name: String(error.name), message: String(error.message), stack: String(error.stack ?? '') }
    }
    return { name: 'Error', message: `Uncaught ${format([error])}`, stack: '' }
  } catch {
    return { name: 'Error', message: 'Uncaught exception (its name, message or stack could not be read)', stack: '' }
  }
}

function bodyForHost(response) {
  return hostBytes(response[kBody])
}

function hostBytes(body) {
  if (body === null || typeof body === 'string') return body
  return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)
}


function jsonSafe(value) {
  if (value === undefined) return null
  const text = JSON.stringify(value)
  return text === undefined ? null : JSON.parse(text)
}

/** The env of every run of a script with no bindings: frozen, so one serves them all. */
const EMPTY_ENV = Object.freeze({})

/** ctx.passThroughOnException: there is no origin behind a script to pass through to. */
function passThroughOnException() {}

/** `ctx`'s namespace `name`, made by `make(run)` on first use (set by RunContext). */
let contextApi

/**
 * A run's `ctx`. Its host API namespaces (`ctx.db`, `ctx.cache`, `ctx.http`...) and `ctx.logger`
 * are own enumerable getters that make the namespace on first use, once per run: most runs use
 * none or one, and making them all was the largest part of a hello run's platform work (18
 * closures and 5 frozen objects a run; in a micro-benchmark 8.5 us a ctx where the platform's
 * code is not optimized yet, as for most tenants of a busy runner, and 2.1 us where it is; 2.8
 * and 1.5 us this way). The getters are the isolate's, defined on each ctx from one frozen set of
 * descriptors (contextProperties); a namespace's methods are the run's own closures, so
 * `const { get } = ctx.cache` still works.
 */
class RunContext {
  #run
  /** The namespaces made so far, by name (a null-prototype object, not a Map: see `untakenRuns`). */
  #apis = null

  constructor(run) {
    this.#run = run
    this.waitUntil = (promise) => { run.waitUntil.push(promise) }
    this.passThroughOnException = passThroughOnException
  }

  static {
    contextApi = (ctx, name, make) => {
      if (!(#run in ctx)) throw new TypeError('Illegal invocation')
      const apis = (ctx.#apis ??= { __proto__: null })
      return (apis[name] ??= make(ctx.#run))
    }
  }
}

// No way from a ctx to its class, whose private fields hold the run: its prototype is empty.
delete RunContext.prototype.constructor
Object.freeze(RunContext.prototype)

/**
 * The getters of every ctx in this isolate, made at boot from the host APIs it exposes: a flat list
 * of names and their descriptors, defined on a ctx one by one. Object.defineProperties with one
 * object of them allocated its list of keys again for every ctx, 0.34 KiB of a hello run's 3.7 in
 * code not optimized yet, which is most tenants' (each 4 KiB is a fresh page for a tenant with
 * few runs: see bench/runner-bench.ts `spread`).
 */
let contextProperties = []

/** `groups`: [namespace, [method, hostName][]] pairs of the host APIs exposed on ctx, e.g. ctx.db.get. */
function contextPropertiesFor(groups) {
  const descriptors = { __proto__: null }
  const getter = (name, make) => ({ get() { return contextApi(this, name, make) }, enumerable: true })
  descriptors.logger = getter('logger', (run) => createLogger((level, message) => run.log(level, message)))
  for (const [namespace, methods] of groups) {
    // ctx.http is fetch with a verb per method, built on the host API 'http.fetch'.
    if (namespace === 'http') {
      descriptors.http = getter('http', createHttp)
      continue
    }
    descriptors[namespace] = getter(namespace, (run) => {
      const api = {}
      for (const [method, name] of methods) api[method] = (...args) => hostCall(run, name, args)
      return Object.freeze(api)
    })
  }
  const properties = []
  for (const name of Object.keys(descriptors)) properties.push(name, Object.freeze(descriptors[name]))
  return Object.freeze(properties)
}

function createContext(run) {
  const ctx = new RunContext(run)
  const properties = contextProperties
  for (let i = 0; i < properties.length; i += 2) defineProperty(ctx, properties[i], properties[i + 1])
  return Object.freeze(ctx)
}

/**
 * True for what `await` would treat as a promise. A value that is not one (most fetch handlers
 * return their Response as it is) needs no race with the run's failure: `respondedNow` checks
 * `run.failure` before it answers.
 */
function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function'
}

/** Settles with `value`, or rejects with the run's failure if something outside its chain threw first. */
function untilFailure(run, value) {
  return newPromise((resolve, reject) => {
    then(Promise.resolve(value), resolve, reject)
    run.onFailure(reject)
  })
}

/**
 * Logs a failure of work the response did not wait for (a waitUntil promise, an unhandled
 * rejection) into the run at level error, with its stack, as Workers does.
 */
function logUncaught(run, prefix, error) {
  const data = errorData(error)
  run.log('error', `${prefix}: ${data.stack !== '' ? data.stack : `${data.name}: ${data.message}`}`)
}

/**
 * Waits for the run's waitUntil promises, including ones added while waiting; each rejection is
 * logged into the run. They run under the run's limits (the host ends the run when they are over).
 */
async function drainWaitUntil(run) {
  for (let done = 0; done < run.waitUntil.length;) {
    const batch = run.waitUntil.slice(done)
    done += batch.length
    const outcomes = await untilFailure(run, Promise.allSettled(batch))
    enter(run)
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') logUncaught(run, 'Uncaught (in waitUntil)', outcome.reason)
    }
  }
}

/**
 * Hands the response to the gateway before the run ends (the host API 'run.respond', answered by
 * the data plane), so waitUntil work never delays it. Without that host API (a runner used on its
 * own) the response goes back with the run's result, as before.
 */
function respondEarly(run, response) {
  if (!run.canRespondEarly) return false
  then(hostCall(run, 'run.respond', [response]), undefined, () => {})
  return true
}

/**
 * Sends a stream body to the client as the script produces it: the status and headers through
 * 'run.respond', then each chunk through 'run.chunk', which answers once the client can take
 * more (a slow client slows the stream), then 'run.end'. The bytes count against the run's
 * output limit: past it the stream is cancelled and the run ends with SCRIPT_OUTPUT_LIMIT (the
 * gateway cuts the connection). False when the gateway did not take the response (no such run
 * there): the body is then read whole and sent with the result.
 */
async function streamResponse(run, status, headers, stream) {
  const taken = await hostCall(run, 'run.respond', [{ status, headers, body: null, streaming: true }])
  enter(run)
  if (taken !== true) return false
  const reader = stream.getReader()
  let sent = 0
  for (;;) {
    const { done, value } = await reader.read()
    enter(run)
    if (done) break
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : toBytes(value)
    sent += bytes.byteLength
    if (sent > run.outputLimit) {
      run.outputExceeded = true
      then(reader.cancel(), undefined, () => {})
      return true
    }
    if (bytes.byteLength === 0) continue
    const flowing = await hostCall(run, 'run.chunk', [bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)])
    enter(run)
    if (flowing !== true) {
      // The client went away: nobody reads the rest.
      then(reader.cancel(), undefined, () => {})
      return true
    }
  }
  await hostCall(run, 'run.end', [])
  enter(run)
  return true
}

/** The program and handler `lookUpHandler` found, read right after it returns null. */
let foundProgram = null
let foundHandler = null

/**
 * Finds the program's handler of `kind` (foundProgram, foundHandler) and returns null, or returns
 * the result that says why there is none. No record a run: a null-prototype one (what a tenant's
 * additions to Object.prototype could not reach) is a dictionary object, 130 bytes more a run.
 */
function lookUpHandler(programNumber, kind) {
  const program = programs.get(programNumber)
  if (program === undefined) return failure('SCRIPT_INVALID_EXPORT', 'the program was not registered')
  if (program.failure !== undefined) return { failure: program.failure }
  if (program.error !== undefined) return { error: program.error }
  const handler = program.found[kind]
  if (handler === undefined) return failure('HANDLER_NOT_FOUND', `the script has no ${kind} handler`)
  foundProgram = program
  foundHandler = handler
  return null
}

/**
 * How every run that awaited ends: its waitUntil work drained, then `result`, or the run's failure
 * (something outside the handler's chain threw) thrown instead.
 */
async function ended(run, result) {
  if (run.waitUntil.length > 0) await drainWaitUntil(run)
  if (run.failure !== null) throw run.failure.error
  return result
}

/** A run of a handler other than fetch (scheduled, event, run): its output, as JSON can carry it. */
async function execute(run, programNumber, kind, input, envData) {
  const none = lookUpHandler(programNumber, kind)
  if (none !== null) return none
  const program = foundProgram
  const handler = foundHandler
  try {
    const env = frozenCopy(envData, EMPTY_ENV)
    const ctx = createContext(run)
    const output = await untilFailure(run, handler.call(program.handlers, input, env, ctx))
    enter(run)
    return await ended(run, { output: jsonSafe(output) })
  } catch (error) {
    return { error: errorData(error) }
  }
}

/**
 * A fetch handler's response as the run's result: its status, header pairs and body, a stream
 * read to its end (or streamed to the client as it comes, when the host lets the run answer
 * early), then the run's waitUntil work and its failure, if any.
 */
async function respond(run, response, waits = false) {
  try {
    // `waits`: the caller's respondedNow found it needs the awaits below.
    const now = waits ? null : respondedNow(run, response)
    if (now !== null) return now
    const status = response.status
    const headers = headerPairs(response.headers)
    let responseBody = response[kBody]
    const stream = isReadableStream(responseBody)
    if (run.canRespondEarly && stream) {
      const streamed = await untilFailure(run, streamResponse(run, status, headers, responseBody))
      enter(run)
      if (streamed) return await ended(run, { response: { status, headers, body: null } })
    }
    // A body held whole (most) goes as it is; only a stream is read here, to its end.
    let over = false
    if (stream) {
      const settled = await untilFailure(run, settledBody(response, run.outputLimit))
      enter(run)
      responseBody = settled.body
      over = settled.over === true
    }
    if (over) run.outputExceeded = true
    const data = { status, headers, body: hostBytes(responseBody) }
    let result = { response: data }
    if (run.waitUntil.length > 0 && !over && respondEarly(run, data)) result = { response: data, respondedEarly: true }
    return await ended(run, result)
  } catch (error) {
    return { error: errorData(error) }
  }
}

/**
 * The result of a response that needs no waiting (most): not a Response at all, or one whose body
 * is held whole, with no waitUntil work; null for one that needs `respond`'s awaits.
 */
function respondedNow(run, response) {
  if (!(response instanceof Response)) {
    // As documented: SCRIPT_INVALID_RESPONSE, not an error the script threw.
    return failure('SCRIPT_INVALID_RESPONSE', `the fetch handler must return a Response, got ${response === null ? 'null' : typeof response}`)
  }
  const body = response[kBody]
  if (run.waitUntil.length > 0 || isReadableStream(body)) return null
  if (run.failure !== null) return { error: errorData(run.failure.error) }
  return { response: { status: response.status, headers: headerPairs(response.headers), body: hostBytes(body) } }
}

/**
 * Starts a fetch run. Not an async function: most handlers return their Response as it is, and
 * its result is then made one microtask later (when `await` of that value would resume), so what
 * the handler queued runs first and can still fail the run, without an async function's frame,
 * its promises and a second microtask to hand the result on. A handler's promise is awaited, and
 * a body that streams or waitUntil work goes through `respond`. Every path ends in `finish`, the
 * first no sooner than one microtask after the handler returned or threw.
 */
function startFetch(run, programNumber, input, envData) {
  const none = lookUpHandler(programNumber, 'fetch')
  if (none !== null) {
    queueTask(() => finish(run, none))
    return
  }
  const program = foundProgram
  const handler = foundHandler
  let returned
  try {
    const env = frozenCopy(envData, EMPTY_ENV)
    const ctx = createContext(run)
    const body = input.body === null || input.body === undefined ? null : typeof input.body === 'string' ? input.body : new Uint8Array(input.body)
    returned = handler.call(program.handlers, requestFromHost(input, body), env, ctx)
  } catch (error) {
    const data = errorData(error)
    queueTask(() => finish(run, { error: data }))
    return
  }
  if (isThenable(returned)) {
    then(
      untilFailure(run, returned),
      (response) => {
        enter(run)
        then(respond(run, response), (result) => finish(run, result))
      },
      (error) => finish(run, { error: errorData(error) }),
    )
    return
  }
  queueTask(() => {
    enter(run)
    let result
    try {
      result = respondedNow(run, returned)
    } catch (error) {
      result = { error: errorData(error) }
    }
    if (result !== null) finish(run, result)
    else then(respond(run, returned, true), (later) => finish(run, later))
  })
}

/**
 * Runs started by a synchronous call whose host has not taken their result yet (see `take`), and
 * beside each its result once it finished within that call (else undefined).
 * A handful at most: the host takes each in the turn that started it. Two lists scanned from their
 * newest end, not tables by run id: a null-prototype object that gains and loses an entry per run
 * keeps its ids in a dictionary whose store is rehashed into a new one as deleted entries pile up
 * (3-5% of a busy runner's page faults at tenants@100, where an isolate allocating under 1 MB/s
 * meets fresh young-generation pages after each scavenge), and a Map links each hash table it
 * replaces to the next, which promotes every run's objects to the isolate's old generation
 * (runner/run-table.ts).
 */
const untakenRuns = []
const untakenResults = []
/** Entries held. The lists' lengths only grow: an array emptied by `pop` gives its store back, and the next `push` allocates one. */
let untakenCount = 0

/** The index of run `runId` in `untakenRuns`, or -1. */
function untakenIndex(runId) {
  for (let i = untakenCount - 1; i >= 0; i--) if (untakenRuns[i].id === runId) return i
  return -1
}

function finish(run, result) {
  run.done = true
  leave(run)
  // Host calls the run made and did not await are queued to the host behind this synchronous
  // step: the result goes through `complete`, queued behind them, so they are made before the
  // run ends (a result taken at once would end the run first, and the host would refuse them).
  const callsLeft = run.pendingCalls !== null && run.pendingCalls.size > 0
  settleLeftovers(run)
  const forHost = resultForHost(payloadOf(run, result))
  const index = callsLeft ? -1 : untakenIndex(run.id)
  if (index !== -1) untakenResults[index] = forHost
  else complete(run.id, forHost)
}

/** What the host learns of a run: built field by field, as an object spread of the result costs more than the rest of a hello run's end. */
function payloadOf(run, result) {
  return { response: result.response, output: result.output, error: result.error, failure: result.failure, respondedEarly: result.respondedEarly, logs: run.logs, logBytes: run.logBytes, outputExceeded: run.outputExceeded }
}

/**
 * A run's result as it leaves the isolate: JSON text, which copies out as one memcpy where the
 * objects went through the V8 serializer here and its deserializer on the host (the host parses
 * it: host-bridge.ts resultFromIsolate). A binary response body goes as the object, as JSON
 * cannot carry it.
 */
function resultForHost(payload) {
  const response = payload.response
  if (response !== undefined && response !== null && response.body instanceof ArrayBuffer) return payload
  // A script that gave objects or arrays a toJSON would change the text: its results go as objects.
  if (ObjectPrototype.toJSON !== undefined || ArrayPrototype.toJSON !== undefined) return payload
  return stringifyJson(payload)
}

/**
 * Starts a run. `args` is the JSON text `{ input, env }` as the run crossed from the gateway, and
 * `body` a binary request body (or null): a text copies into the isolate as one memcpy where
 * objects went through the V8 serializer (runner/protocol.ts RunArgs). `sync`: the host calls
 * synchronously and then `take`s the result of a run that finished within that call (most do: no
 * host call, no timer), which saves the asynchronous hand-back through `complete`. `previous`
 * (a run id, or 0): a run the host started synchronously just before and has not taken yet, whose
 * result this call hands back as `take` would, so a batch of runs costs one call each.
 */
function dispatch(runId, programNumber, kind, args, body, outputLimit, sync, previous) {
  const handed = previous > 0 ? hand(previous) : undefined
  const run = new Run(runId, outputLimit)
  run.canRespondEarly = canRespondEarly
  if (sync === true) {
    untakenRuns[untakenCount] = run
    untakenResults[untakenCount++] = undefined
  }
  enter(run)
  // An HTTP request's headers follow as JSON text of their own, parsed when read (runner/protocol.ts RunArgs).
  const cut = args.indexOf('\n')
  const { input, env } = parseJson(cut === -1 ? args : args.slice(0, cut))
  if (cut !== -1) input.headers = new HeaderText(args.slice(cut + 1))
  if (body !== null && kind === 'fetch') input.body = body
  if (kind === 'fetch') startFetch(run, programNumber, input, env)
  else then(execute(run, programNumber, kind, input, env), (result) => finish(run, result))
  return handed
}

/**
 * The result of a run started synchronously, when it finished in that call; else undefined, and it
 * completes later. Its JSON text, or `true` for a result that is an object (a binary body, see
 * resultForHost), which stays until taken `whole`: the host takes a text without asking for a
 * copy, which isolated-vm's options make cost more than the call (0.6 us of 2.6).
 */
function take(runId, whole) {
  const handed = handedResult
  const recovered = runId === handedId
  // Kept only until the host takes anything else: then the call that handed it did not fail.
  handedId = 0
  handedResult = undefined
  if (recovered) return handed
  const index = untakenIndex(runId)
  if (index === -1) return undefined
  const result = untakenResults[index]
  // An object stays until taken whole. A run not finished yet leaves the lists: it completes
  // through `complete` (finish).
  if (typeof result === 'object' && whole !== true) return true
  // The last entry takes its place.
  const last = --untakenCount
  untakenRuns[index] = untakenRuns[last]
  untakenResults[index] = untakenResults[last]
  untakenRuns[last] = null
  untakenResults[last] = undefined
  return result
}

/**
 * The result `dispatch` handed back last, until the host takes or hands another: a call that
 * failed after taking it (its own run went over its bound, or left a rejection isolated-vm reports
 * as the call's failure) returned nothing, and the host then `take`s it from here.
 */
let handedId = 0
let handedResult

/** `take` of a text, kept once more for a failed call (handedResult); an object stays for `take(runId, true)`. */
function hand(runId) {
  const result = take(runId, false)
  if (typeof result === 'string') {
    handedId = runId
    handedResult = result
  }
  return result
}

/**
 * Runs what a typical first request runs, in a spare context prepared ahead of a new program: a
 * whole run of a built-in hello handler through `dispatch`'s path (its arguments parsed, a ctx, the
 * request, the handler's Response, its headers and body, the result's JSON), and the URL parser
 * loaded. The platform's functions in this context gather type feedback, so the first run of the
 * program does not meet them cold (a new version's first run: see bench/runner-bench.ts `warm`).
 * The run is no run of the host's: id 0 is the CPU books' "no run" slot, its result goes nowhere,
 * and it leaves the context as it was (no program, no current run).
 */
function warmUp() {
  const run = new Run(0, WARM_UP_OUTPUT)
  run.canRespondEarly = canRespondEarly
  enter(run)
  const cut = WARM_UP_ARGS.indexOf('\n')
  const { input, env } = parseJson(WARM_UP_ARGS.slice(0, cut))
  input.headers = new HeaderText(WARM_UP_ARGS.slice(cut + 1))
  programs.set(WARM_UP_PROGRAM, { __proto__: null, handlers: WARM_UP_HANDLERS, found: WARM_UP_HANDLERS })
  const done = () => {
    programs.delete(WARM_UP_PROGRAM)
    resetCurrent()
  }
  // Settled in this step's microtasks: the handler's Response is no promise.
  then(execute(run, WARM_UP_PROGRAM, 'fetch', input, env), (result) => {
    run.done = true
    leave(run)
    resultForHost(payloadOf(run, result))
    done()
  }, done)
  const url = new (webUrl().URL)('https://warm.test/a/b?c=d')
  const response = Response.json({ path: url.pathname, c: url.searchParams.get('c') })
  headerPairs(response.headers)
  bodyForHost(response)
}

/** The warm-up run's program: never a host's, whose numbers count from 1. */
const WARM_UP_PROGRAM = 0
const WARM_UP_OUTPUT = 1 << 20
const WARM_UP_ARGS = '{"input":{"method":"GET","url":"https://warm.test/a/b?c=d","body":null,"params":{}},"env":{}}\naccept\n*/*\nuser-agent\nwarm-up'
const WARM_UP_HANDLERS = Object.freeze({ __proto__: null, fetch: (request) => new Response(`hello ${request.headers.get('user-agent')}`) })

/** Groups host API names ('db.get', 'db.query') by namespace for ctx. */
function groupNames(names) {
  const groups = new Map()
  for (const name of names) {
    const dot = name.indexOf('.')
    if (dot <= 0) continue
    const namespace = name.slice(0, dot)
    if (!groups.has(namespace)) groups.set(namespace, [])
    groups.get(namespace).push([name.slice(dot + 1), name])
  }
  return [...groups]
}

const NODE_MODULES = new Set(['assert', 'buffer', 'crypto', 'events', 'util'])

/**
 * Opens the way for the `node:` modules of a program being evaluated: a function under a key the
 * host made up for this evaluation, which the host's small module for each `node:` import calls
 * (runner/thread/imports.ts). The host closes it once the program evaluated. It hands out only
 * what an import would.
 */
function openNodeModules(key) {
  Object.defineProperty(global, String(key), {
    value: (name) => {
      if (!NODE_MODULES.has(name)) throw new TypeError(`isogate: no node module ${name}`)
      return loadChunk(`node-${name}`)
    },
    configurable: true,
    enumerable: false,
    writable: false,
  })
}

function closeNodeModules(key) {
  delete global[String(key)]
}

export function boot(call, completeReference, toASCII, chunk, seed, exposedNames, cpuClock, ledger, account, peekedNames) {
  connect(call, completeReference, toASCII, chunk, cpuClock, ledger, account, peekedNames === undefined || peekedNames === '' ? [] : String(peekedNames).split(','))
  seedRandom(seed)
  const names = exposedNames === '' ? [] : String(exposedNames).split(',')
  // 'run.respond', 'run.chunk' and 'run.end' are listed when the host offers them (see
  // respondEarly, streamResponse); they are the platform's, not ctx APIs.
  canRespondEarly = names.includes('run.respond') && names.includes('run.chunk') && names.includes('run.end')
  contextProperties = contextPropertiesFor(groupNames(names.filter((name) => !name.startsWith('run.'))))
  const entry = Object.create(null)
  entry.register = register
  entry.dispatch = dispatch
  entry.take = take
  entry.answer = answer
  entry.warmUp = warmUp
  entry.openNodeModules = openNodeModules
  entry.closeNodeModules = closeNodeModules
  return Object.freeze(entry)
}
