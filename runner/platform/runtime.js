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
// settling, a timer firing) sets it, so console lines of interleaved runs land in the right run,
// and charges the CPU spent since the last switch to the run that was executing (the host's side
// of the books, and why: runner/thread/cpu-ledger.ts).

const PromiseCtor = Promise
const promiseThen = Promise.prototype.then
/** `promiseThen.call`, bound before any script runs (tenant changes to Function.prototype cannot reach it); no arguments array a call, as Reflect.apply takes. */
const callThen = Function.prototype.call.bind(promiseThen)
// Taken before lockdown removes Atomics from the global object (lockdown.js).
const atomicsAdd = Atomics.add
const atomicsLoad = Atomics.load
const NumberCtor = Number

/** Options for isolated-vm calls: null prototypes, frozen. */
function options(value) {
  return Object.freeze(Object.assign(Object.create(null), value))
}
const COPY = options({ copy: true })
const COMPLETE_OPTIONS = options({ arguments: COPY })
const SYNC_OPTIONS = options({ arguments: COPY, result: COPY })
// The result is the chunk's factory, a function of this context (the host hands it back with
// derefInto()): not copied.
const CHUNK_OPTIONS = options({ arguments: COPY })

let callReference = null
let completeReference = null
let toASCIIReference = null
let chunkReference = null
/** Host APIs whose calls go synchronously, to be answered at once when the host has the answer at hand. */
let peeked = null

// CPU accounting: the isolate's clock (its isolated-vm Isolate handle: only `cpuTime` is ever read;
// it lives in this closure like the References), the thread's per-slot charges, and the isolate's
// account [current slot, segment start, unattributed] under a sequence lock.
let clock = null
let charged = null
let endedFlags = null
let account = null
let accountSeq = null

/** @type {Run | null} */
export let current = null

/** The ledger slot a run's CPU is charged to: its id names it; 0 is no run. */
function slotOf(run) {
  return run.done ? 0 : run.id % charged.length
}

/** Charges the CPU since the last switch to the slot that was executing, and makes `slot` the one executing. */
function switchTo(slot) {
  if (account[0] === slot) return
  const now = NumberCtor(clock.cpuTime)
  atomicsAdd(accountSeq, 0, 1)
  const spent = now - account[1]
  if (spent > 0) {
    const from = account[0]
    if (from === 0) account[2] += spent
    else charged[from] += spent
  }
  account[1] = now
  account[0] = slot
  atomicsAdd(accountSeq, 0, 1)
}

export function enter(run) {
  current = run
  if (account !== null) switchTo(slotOf(run))
}

/** No run's code is executing: as in a context that has served none (index.js warmUp leaves it so). */
export function resetCurrent() {
  current = null
}

/** Installs the host's References and CPU books; once per context. */
export function connect(call, complete, toASCII, chunk, cpuClock, ledger, isolateAccount, peekedNames = []) {
  if (callReference !== null) throw new TypeError('isogate: the platform is connected already')
  callReference = call
  peeked = new Set(peekedNames)
  completeReference = complete
  toASCIIReference = toASCII
  chunkReference = chunk
  if (cpuClock !== undefined && ledger !== undefined && isolateAccount !== undefined) {
    clock = cpuClock
    // The ledger is `slots` Float64 charges and then `slots` Int32 ended flags (cpu-ledger.ts).
    const slots = ledger.byteLength / 12
    charged = new Float64Array(ledger, 0, slots)
    endedFlags = new Int32Array(ledger, slots * 8, slots)
    accountSeq = new Int32Array(isolateAccount, 0, 2)
    account = new Float64Array(isolateAccount, 8, 3)
  }
}

/** `promise.then` that tenant changes to Promise.prototype cannot intercept. */
export function then(promise, onFulfilled, onRejected) {
  return callThen(promise, onFulfilled, onRejected)
}

export function newPromise(executor) {
  return new PromiseCtor(executor)
}

const RESOLVED = newPromise((resolve) => resolve())

/** Calls `callback` one microtask later (as `await` of a value that is not a promise resumes), with the platform's own `then`. */
export function queueTask(callback) {
  then(RESOLVED, callback)
}

/** An Error built inside the isolate from the host's plain error data. */
function hostError(data) {
  const Ctor = data.name === 'TypeError' ? TypeError : data.name === 'RangeError' ? RangeError : Error
  const error = new Ctor(String(data.message))
  if (typeof data.code === 'string') error.code = data.code
  return error
}

/**
 * Host calls waiting for their answer, by call id: how to settle the promise the script's call
 * reacts to. A null-prototype object, not a Map (see runner/run-table.ts).
 */
const answers = Object.create(null)
let nextCall = 1

/**
 * Calls a host API for `run`. The call leaves at once, its answer comes later through `answer`,
 * which the host enters on its worker thread when it can (runner/thread/tenant-isolate.ts
 * deliver): the host decides when the script's code resumes, so it knows when code of the isolate
 * may be executing. The host answers an envelope `{ ok, value }` or `{ ok: false, error }` and
 * never fails (see runner/host-bridge.ts); a failure becomes an Error thrown here, with a stack in
 * the tenant's code. Arguments are copied (structured clone, inside the isolate): a Proxy or a
 * function among them fails here, before anything reaches the host.
 */
export function hostCall(run, name, args) {
  const callId = nextCall++
  let now
  try {
    // A peeked API is asked synchronously: the host answers at once when it can (a ctx.cache.get
    // the runner thread kept, runner/near-copies.ts), and the call settles with no second entry
    // into the isolate.
    if (peeked.has(name)) now = callReference.applySync(undefined, [run.id, callId, name, args, true], SYNC_OPTIONS)
    else callReference.applyIgnored(undefined, [run.id, callId, name, args], COMPLETE_OPTIONS)
  } catch (error) {
    return new PromiseCtor((resolve, reject) => reject(error))
  }
  if (now !== undefined) return settledAtOnce(now)
  // The answer settles `answered`; the script's promise is a reaction to it, so an error built
  // there has the script's await in its async stack trace (its line and column in the log).
  let settle = null
  const answered = new PromiseCtor((resolve) => {
    settle = resolve
  })
  answers[callId] = settle
  const result = then(answered, (envelope) => {
    run.pendingCalls?.delete(result)
    if (envelope === null || typeof envelope !== 'object' || envelope.ended === true || (endedFlags !== null && atomicsLoad(endedFlags, slotOf(run)) === 1)) return ended(run)
    enter(run)
    if (envelope.ok) return envelope.value
    throw hostError(envelope.error)
  })
  if (run.pendingCalls === null) run.pendingCalls = new Set()
  run.pendingCalls.add(result)
  return result
}

/** A call the host answered at once: a settled promise, the value or the host's error. */
function settledAtOnce(envelope) {
  return new PromiseCtor((resolve, reject) => {
    if (envelope !== null && typeof envelope === 'object' && envelope.ok === true) resolve(envelope.value)
    else reject(hostError(envelope !== null && typeof envelope === 'object' && envelope.error !== undefined ? envelope.error : { message: 'the host API failed' }))
  })
}

/** The host's answer to call `callId`: the script's code waiting for it resumes in this entry's microtasks. */
export function answer(callId, envelope) {
  const settle = answers[callId]
  if (settle === undefined) return
  delete answers[callId]
  settle(envelope)
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
 * The host ended the run (it went over its CPU limit while another run of the tenant was executing,
 * see runner/thread/watchdog.ts): its code never resumes, as workerd drops a cancelled request's
 * continuations. The call's promise stays pending; nothing the tenant wrote can catch that.
 */
function ended(run) {
  run.done = true
  return newPromise(ignoreRejection)
}

/**
 * Marks the host calls a finished run left unsettled as handled. isolated-vm 5 reports an
 * isolate's unhandled rejection as the failure of the next operation into it, so a call the
 * script never awaited would otherwise fail the tenant's next run. Only calls still pending when
 * the run ends: a handler added earlier would be a second reaction on a promise the script
 * awaits, and V8 then drops the script's frames from the error's async stack trace.
 */
export function settleLeftovers(run) {
  if (run.pendingCalls === null) return
  for (const pending of run.pendingCalls) then(pending, undefined, ignoreRejection)
  run.pendingCalls.clear()
}

/** Hands a finished run's result to the host (fire and forget: the host holds the run open). */
export function complete(runId, result) {
  completeReference.applyIgnored(undefined, [runId, result], COMPLETE_OPTIONS)
}

/**
 * The run finished: its CPU is settled before the host hears it (the host reads the figure then,
 * and gives its slot to another run), and whatever runs after is no run's.
 */
export function leave(run) {
  if (account !== null && account[0] === run.id % charged.length) switchTo(0)
}
