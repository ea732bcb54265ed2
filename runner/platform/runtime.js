// The platform's link to the host and the run being executed.
//
// The host hands the platform four isolated-vm References when a context boots (`connect`): `call`
// for host APIs, `complete` for finished runs, and two synchronous host functions: `toASCII` for
// IDNA in URL host parsing and `chunk`, which runs a platform chunk in this context (chunks.js).
// They live only in this module's closure: never on the global object, never as a property of an
// object tenant code can reach. Every call passes null-prototype option objects, so a tenant that
// pollutes Object.prototype cannot change how isolated-vm transfers values (`reference`,
// `promise`, ... are read from the options object).
//
// `current` is the run whose code is executing. Each entry into the isolate (a new run, a host call
// settling, a timer firing) sets it, so console lines of interleaved runs land in the right run.

const PromiseCtor = Promise
const promiseThen = Promise.prototype.then
const reflectApply = Reflect.apply

/** Options for isolated-vm calls: null prototypes, frozen. */
function options(value) {
  return Object.freeze(Object.assign(Object.create(null), value))
}
const COPY = options({ copy: true })
const CALL_OPTIONS = options({ arguments: COPY, result: options({ copy: true, promise: true }) })
const COMPLETE_OPTIONS = options({ arguments: COPY })
const SYNC_OPTIONS = options({ arguments: COPY, result: COPY })
// The result is the chunk's factory, a function of this context (the host hands it back with
// derefInto()): not copied.
const CHUNK_OPTIONS = options({ arguments: COPY })

let callReference = null
let completeReference = null
let toASCIIReference = null
let chunkReference = null

/** @type {Run | null} */
export let current = null

export function enter(run) {
  current = run
}

/** Installs the host's References; once per context. */
export function connect(call, complete, toASCII, chunk) {
  if (callReference !== null) throw new TypeError('isogate: the platform is connected already')
  callReference = call
  completeReference = complete
  toASCIIReference = toASCII
  chunkReference = chunk
}

/** `promise.then` that tenant changes to Promise.prototype cannot intercept. */
export function then(promise, onFulfilled, onRejected) {
  return reflectApply(promiseThen, promise, [onFulfilled, onRejected])
}

export function newPromise(executor) {
  return new PromiseCtor(executor)
}

/** An Error built inside the isolate from the host's plain error data. */
function hostError(data) {
  const Ctor = data.name === 'TypeError' ? TypeError : data.name === 'RangeError' ? RangeError : Error
  const error = new Ctor(String(data.message))
  if (typeof data.code === 'string') error.code = data.code
  return error
}

/**
 * Calls a host API for `run`. The host answers an envelope `{ ok, value }` or `{ ok: false, error }`
 * and never rejects (see runner/host-bridge.ts); a failure becomes an Error thrown here, with a
 * stack in the tenant's code. Arguments are copied (structured clone, inside the isolate): a
 * Proxy or a function among them fails here, before anything reaches the host.
 */
export function hostCall(run, name, args) {
  let pending
  try {
    pending = callReference.apply(undefined, [run.id, name, args], CALL_OPTIONS)
  } catch (error) {
    return new PromiseCtor((resolve, reject) => reject(error))
  }
  const result = then(pending, (envelope) => {
    run.pendingCalls.delete(result)
    current = run
    if (envelope.ok) return envelope.value
    throw hostError(envelope.error)
  }, (error) => {
    run.pendingCalls.delete(result)
    current = run
    throw error
  })
  run.pendingCalls.add(result)
  return result
}

/**
 * UTS #46 domain to ASCII, computed by the host (runner/idna.ts): the ASCII domain, or null when
 * the domain is not valid. Synchronous, as URL parsing is; only a string crosses and only a string
 * or null comes back. A failure on the host side is thrown here as an Error built in the isolate.
 */
export function hostToASCII(domain) {
  const envelope = toASCIIReference.applySync(undefined, [String(domain)], SYNC_OPTIONS)
  if (envelope.ok) return typeof envelope.value === 'string' ? envelope.value : null
  throw hostError(envelope.error)
}

/** The factory of the platform chunk `name`, run by the host in this context (see chunks.js). */
export function hostChunk(name) {
  const factory = chunkReference.applySync(undefined, [name], CHUNK_OPTIONS)
  if (typeof factory !== 'function') throw new TypeError(`isogate: the platform chunk ${name} did not load`)
  return factory
}

function ignoreRejection() {}

/**
 * Marks the host calls a finished run left unsettled as handled. isolated-vm 5 reports an
 * isolate's unhandled rejection as the failure of the next operation into it, so a call the
 * script never awaited would otherwise fail the tenant's next run. Only calls still pending when
 * the run ends: a handler added earlier would be a second reaction on a promise the script
 * awaits, and V8 then drops the script's frames from the error's async stack trace.
 */
export function settleLeftovers(run) {
  for (const pending of run.pendingCalls) then(pending, undefined, ignoreRejection)
  run.pendingCalls.clear()
}

/** Hands a finished run's result to the host (fire and forget: the host holds the run open). */
export function complete(runId, result) {
  completeReference.applyIgnored(undefined, [runId, result], COMPLETE_OPTIONS)
}
