/**
 * The runner's contract: what a run asks for and what it returns, as plain data that survives
 * structured clone (threads) and the framed socket protocol (processes).
 */
import type { ErrorData } from './errors.js'
import { headerText, pairsFromHeaderText } from './header-text.js'

export type HandlerKind = 'fetch' | 'scheduled' | 'event' | 'run'

export interface RunLimits {
  timeoutMs: number
  cpuMs: number
  memoryMb: number
  apiCalls: number
  outputBytes: number
}

/**
 * One immutable version of a script. A program is named by `programKey()` (script, version and
 * source hash): two scripts of one tenant with the same source are two programs, each with its
 * own context and module state, and a rollback (a new version) starts a fresh one. `source`
 * stays on the gateway side: the runner protocol names the program and a runner that lacks it
 * asks once (see framing.ts).
 */
export interface ProgramRef {
  tenantId: string
  scriptId: string
  version: number
  /** sha256 of the source, hex. */
  sourceHash: string
  source: string
}

/** A program as it crosses a hop: named, with its source only when the other side may lack it. */
export type NamedProgram = Omit<ProgramRef, 'source'> & { source?: string | undefined }

/** A task as it crosses a hop (process, thread): its program named, its source attached only when needed. */
export interface NamedTask extends Omit<RunTask, 'program'> {
  program: NamedProgram
}

/**
 * A run as it crosses the process and thread hops (issue 22): what routing needs in the open (the
 * tenant, the program's key, its source when it goes along), the rest of the task as JSON text
 * that the runner's main thread hands on without reading it, and a binary request body beside
 * it as bytes. For these shapes JSON costs about a third of the V8 serializer both ways (7 hello
 * tasks: 14 us against 37 us each way), and a string crosses postMessage as one copy.
 *
 * The run's input and env are a text of their own, `args`: the worker thread does not read them
 * either, and hands the text to the isolate, which parses it (RunArgs). Copied into an isolate, a
 * string is one memcpy; the same values as objects went through the V8 serializer on the thread
 * and its deserializer in the isolate, about a sixth of a worker thread's time at hello@100.
 */
export interface WireTask {
  tenantId: string
  key: string
  source?: string | undefined
  /**
   * The head's number (taskHead): one per head text in the process that wrote it, so a receiver
   * that holds the text finds it by number, not by hashing ~250 characters a run.
   */
  head: number
  /**
   * The task's fields but its input, env and trace, as JSON (its head): the same text for every
   * run of one program at one set of limits, so the gateway writes it once per route (taskHead)
   * and a worker thread parses it once (decodeTask). Left out (undefined) when the receiver was
   * sent it already; one that no longer has it answers as for a missing source (framing.ts
   * `missing`), and the run comes again with its source and its head.
   */
  json: string | undefined
  /** The run's own part of the head (RunTask.trace), or null. */
  trace: RunTrace | null
  /**
   * The tenant's version when the gateway sent the run (near-copies.ts): its host calls may be
   * answered from the thread's kept answers once the thread has heard of changes that far. -1:
   * they may not (nothing keeps versions, as for a pool in this process).
   */
  near: number
  /** JSON `{ input, env }`, a binary request body left null (it is `body`). */
  args: string
  body: Uint8Array | null
}

/**
 * A run's input and env as the isolate takes them: JSON `{ input, env }`, and a binary request body
 * beside it (or null). An HTTP request's headers follow the JSON as text of their own (header-text.ts),
 * after a newline (which JSON text never holds outside its strings' escapes): the isolate parses them only
 * when the script reads `request.headers` (runner/platform/request.js). Each header is two strings
 * and an array to make, in an isolate most of whose data is out of the CPU's caches when many
 * tenants share a thread.
 */
export interface RunArgs {
  json: string
  body: Uint8Array | null
}

/** A run's result on its way back: JSON, and a binary response body beside it as bytes. */
export interface WireResult {
  json: string
  body: ArrayBuffer | Uint8Array | null
}

/** A body that crosses as bytes beside the JSON (framing.ts, and the thread hop). */
export function isBinary(value: unknown): value is ArrayBuffer | Uint8Array {
  return value instanceof ArrayBuffer || value instanceof Uint8Array
}

/** A task for the wire; every field of RunTask but the program's source is in `json`, `trace` and `args`. */
export function encodeTask(task: NamedTask): WireTask {
  const head = taskHead(task)
  const { json: args, body } = runArgs(task)
  return { tenantId: task.program.tenantId, key: head.key, source: task.program.source, head: head.id, json: head.json, trace: task.trace ?? null, near: -1, args, body }
}

/** A task's head as `encodeTask` wrote it, with what it was written from. */
interface TaskHead {
  kind: HandlerKind
  limits: RunLimits
  isolateMemoryMb: number | undefined
  key: string
  id: number
  json: string
}

/** The number of the next head this process writes (WireTask.head). */
let nextHeadId = 1
/**
 * Head numbers by text: a task whose program object is new each run (a trigger's, an ad-hoc
 * run's) keeps its head's number when the text is the same, so the receivers keep one head for
 * it, not one per run. Let go all at once when full (a text then gets a new number: no harm).
 */
const headIds = new Map<string, number>()
const MAX_HEAD_IDS = 10_000

function headId(json: string): number {
  let id = headIds.get(json)
  if (id !== undefined) return id
  id = nextHeadId++
  if (headIds.size >= MAX_HEAD_IDS) headIds.clear()
  headIds.set(json, id)
  return id
}

/**
 * Heads by the program object they were written for. The data plane hands every run of a route
 * the same program and limits objects (and QuotaRunner the same clamped limits), so a route's head
 * is written once, not per request: it was half of `encodeTask`, about 4 us of the gateway's
 * thread a hello run. A task whose kind, limits object or isolate limit differ writes its own.
 * Weak: a program let go (a route replaced) takes its head along.
 */
const heads = new WeakMap<object, TaskHead>()

function taskHead(task: NamedTask): TaskHead {
  const { program, kind, limits, isolateMemoryMb } = task
  const held = heads.get(program)
  if (held !== undefined && held.kind === kind && held.limits === limits && held.isolateMemoryMb === isolateMemoryMb) return held
  const fields = {
    kind,
    program: { tenantId: program.tenantId, scriptId: program.scriptId, version: program.version, sourceHash: program.sourceHash },
    limits,
    isolateMemoryMb,
  } satisfies Record<Exclude<keyof NamedTask, 'input' | 'env' | 'trace'>, unknown>
  const json = JSON.stringify(fields)
  const head: TaskHead = { kind, limits, isolateMemoryMb, key: programKey(program), id: headId(json), json }
  heads.set(program, head)
  return head
}

/**
 * A task off the wire: its input and env are parsed only if something reads them. The worker
 * thread hands their text to the isolate as it came (runArgs). A class, not getters defined on
 * the parsed object with the text in a WeakMap: those made every run's task a dictionary-mode
 * object and an ephemeron (4.4 us a decode, 1.7 now).
 */
class DecodedTask {
  kind!: HandlerKind
  program!: NamedProgram
  limits!: RunLimits
  trace?: RunTrace | undefined
  isolateMemoryMb?: number | undefined
  readonly #args: RunArgs
  readonly #near: number
  #parsed: Pick<RunTask, 'input' | 'env'> | null = null

  constructor(head: DecodedHead, program: NamedProgram, trace: RunTrace | null, args: RunArgs, near: number) {
    this.kind = head.kind
    this.program = program
    this.limits = head.limits
    if (trace !== null) this.trace = trace
    if (head.isolateMemoryMb !== undefined) this.isolateMemoryMb = head.isolateMemoryMb
    this.#args = args
    this.#near = near
  }

  get input(): unknown {
    return this.#read().input
  }

  get env(): Record<string, string> {
    return this.#read().env
  }

  /** WireTask.near of a decoded task; -1 for any other task. */
  static nearOf(task: object): number {
    return #near in task ? (task as DecodedTask).#near : -1
  }

  /** The wire's text of a decoded task's input and env; null for any other task. */
  static argsOf(task: object): RunArgs | null {
    return #args in task ? (task as DecodedTask).#args : null
  }

  #read(): Pick<RunTask, 'input' | 'env'> {
    if (this.#parsed !== null) return this.#parsed
    const json = this.#args.json
    const cut = json.indexOf('\n')
    const parsed = JSON.parse(cut === -1 ? json : json.slice(0, cut)) as Pick<RunTask, 'input' | 'env'>
    if (cut !== -1) (parsed.input as HttpRequestData).headers = pairsFromHeaderText(json.slice(cut + 1))
    if (this.#args.body !== null) (parsed.input as HttpRequestData).body = this.#args.body
    this.#parsed = parsed
    return parsed
  }
}

/** A task's head off the wire, frozen: the runs of a route share it. */
type DecodedHead = Readonly<Pick<NamedTask, 'kind' | 'program' | 'limits' | 'isolateMemoryMb'>>

/**
 * Heads parsed on this thread, by number (WireTask.head); let go all at once when full: a run
 * whose head is gone then is answered as missing its program, and comes again with its head (a
 * round trip to the runner's main thread), so the bound is well above what a thread serves at a
 * time (ISOGATE_ISOLATES_PER_WORKER, 500 by default, each with a head or a few).
 */
const parsedHeads = new Map<number, DecodedHead>()
const MAX_PARSED_HEADS = 4096

/** Program keys of the heads' programs (programKey), computed once: a run looks its program up by key three times. */
const programKeys = new WeakMap<object, string>()

function parseHead(wire: WireTask): DecodedHead | null {
  const held = parsedHeads.get(wire.head)
  if (held !== undefined) return held
  if (wire.json === undefined) return null
  const fields = JSON.parse(wire.json) as Pick<NamedTask, 'kind' | 'program' | 'limits' | 'isolateMemoryMb'>
  Object.freeze(fields.program)
  Object.freeze(fields.limits)
  programKeys.set(fields.program, programKey(fields.program))
  const head = Object.freeze(fields)
  if (parsedHeads.size >= MAX_PARSED_HEADS) parsedHeads.clear()
  parsedHeads.set(wire.head, head)
  return head
}

/**
 * The task `encodeTask` made, its source attached when the wire carries it; null when the task
 * came without its head text and this thread does not hold it (answered as a missing program).
 */
export function decodeTask(wire: WireTask): NamedTask | null {
  const head = parseHead(wire)
  if (head === null) return null
  const program = wire.source === undefined ? head.program : { ...head.program, source: wire.source }
  return new DecodedTask(head, program, wire.trace, { json: wire.args, body: wire.body }, typeof wire.near === 'number' ? wire.near : -1)
}

/** The tenant's version a task came off the wire with (WireTask.near); -1 for a task that did not. */
export function nearVersionOf(task: object): number {
  return DecodedTask.nearOf(task)
}

/** A task's input and env for the isolate: the wire's text when the task came off the wire, else encoded here. */
export function runArgs(task: Pick<RunTask, 'kind' | 'input' | 'env'>): RunArgs {
  const wire = DecodedTask.argsOf(task)
  if (wire !== null) return wire
  const input = task.input as Partial<HttpRequestData> | null
  const fetch = task.kind === 'fetch' && input !== null && typeof input === 'object'
  const body = fetch && isBinary(input.body) ? input.body : null
  const bytes = body === null ? null : body instanceof Uint8Array ? body : new Uint8Array(body)
  if (!fetch || !isHeaderPairs(input.headers)) return { json: JSON.stringify({ input: body === null ? task.input : { ...input, body: null }, env: task.env }), body: bytes }
  // The data plane's request (every HTTP run): its fields written in place, without the copy of
  // the request the rest below makes (0.47 against 0.83 us in a loop). The isolate reads only these.
  if (typeof input.method === 'string' && typeof input.url === 'string' && (body !== null || input.body === null || typeof input.body === 'string') && isObject(input.params) && isObject(task.env)) {
    const bodyJson = body !== null || input.body === null ? 'null' : JSON.stringify(input.body)
    return {
      json: `{"input":{"method":${JSON.stringify(input.method)},"url":${JSON.stringify(input.url)},"body":${bodyJson},"params":${JSON.stringify(input.params)}},"env":${JSON.stringify(task.env)}}\n${headerText(input.headers)}`,
      body: bytes,
    }
  }
  const { headers, ...rest } = input
  if (body !== null) rest.body = null
  return { json: `${JSON.stringify({ input: rest, env: task.env })}\n${headerText(headers)}`, body: bytes }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}

/** Whether `headers` is pairs of strings: what the isolate takes as a request's headers unchecked, and what a response's headers must be. */
export function isHeaderPairs(headers: unknown): headers is Array<[string, string]> {
  if (!Array.isArray(headers)) return false
  for (const pair of headers) if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return false
  return true
}

export function encodeResult(result: RunResult): WireResult {
  const response = result.response
  if (response === undefined || !isBinary(response.body)) return { json: JSON.stringify(result), body: null }
  return { json: JSON.stringify({ ...result, response: { ...response, body: null } }), body: response.body }
}

export function decodeResult(wire: WireResult): RunResult {
  const result = JSON.parse(wire.json) as RunResult
  if (wire.body !== null && result.response !== undefined) result.response.body = wire.body as HttpResponseData['body']
  return result
}

/** A program's name on the wire and in every cache of compiled code: never the source alone. */
export function programKey(program: Pick<ProgramRef, 'scriptId' | 'version' | 'sourceHash'>): string {
  return programKeys.get(program) ?? `${program.scriptId}@${program.version}#${program.sourceHash}`
}

export interface HttpRequestData {
  method: string
  url: string
  headers: Array<[string, string]>
  body: string | Uint8Array | null
  params: Record<string, string>
}

export interface HttpResponseData {
  status: number
  headers: Array<[string, string]>
  body: string | ArrayBuffer | null
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  time: number
}

export interface RunMetrics {
  wallMs: number
  cpuMs: number
  heapBytes: number
  apiCalls: number
  outputBytes: number
  /** cold: a new isolate; warm: new program in a live isolate; hot: cached program. */
  start: 'cold' | 'warm' | 'hot'
}

/** Who is running, for host APIs that record causes (events published, data changed). */
export interface RunTrace {
  executionId: string
  /** Depth of the event that triggered the run; null when no event did. */
  eventDepth: number | null
  /** The script running (the runner fills it from the program): events it publishes name it. */
  scriptId?: string | undefined
}

export interface RunTask {
  kind: HandlerKind
  program: ProgramRef
  /** HttpRequestData for fetch; JSON input otherwise. */
  input: unknown
  env: Record<string, string>
  limits: RunLimits
  trace?: RunTrace | undefined
  /**
   * The heap limit of the tenant's isolate, in MB: the tenant's memory quota. The isolate is the
   * tenant's, shared by its scripts, so its cap is the tenant's and not a script's; an isolate
   * made at another limit (the quota changed) is replaced. Absent (a pool used without quotas):
   * the isolate is made at the largest `limits.memoryMb` its runs asked for.
   */
  isolateMemoryMb?: number | undefined
}

export interface RunResult {
  ok: boolean
  response?: HttpResponseData | undefined
  output?: unknown
  error?: ErrorData | undefined
  logs: LogEntry[]
  metrics: RunMetrics
}

/**
 * What runs tasks: the runner supervisor (runner processes), an IsolatePool (threads in this
 * process), or a wrapper such as SecretEnv. Every caller (HTTP, cron, events, manual runs)
 * depends on this one port.
 */
export interface Executor {
  run(task: RunTask): Promise<RunResult>
}

/** Metrics of a run that never reached a script. */
const NO_METRICS: Readonly<RunMetrics> = Object.freeze({ wallMs: 0, cpuMs: 0, heapBytes: 0, apiCalls: 0, outputBytes: 0, start: 'cold' })

/**
 * The result of a run that failed before or outside its script (refused, crashed, quarantined,
 * a host fault): the one way such a result is built.
 */
export function failedRun(error: ErrorData, metrics: Partial<RunMetrics> = {}, logs: LogEntry[] = []): RunResult {
  return { ok: false, error, logs, metrics: { ...NO_METRICS, ...metrics } }
}

const LIMIT_KEYS = ['timeoutMs', 'cpuMs', 'memoryMb', 'apiCalls', 'outputBytes'] as const satisfies ReadonlyArray<keyof RunLimits>

/** A script's own limits over the defaults: only the numbers it sets override (a stored script may omit some). */
export function mergeLimits(defaults: RunLimits, overrides: Partial<Record<keyof RunLimits, unknown>> | null | undefined): RunLimits {
  const limits = { ...defaults }
  if (overrides == null) return limits
  for (const key of LIMIT_KEYS) {
    const value = overrides[key]
    if (typeof value === 'number') limits[key] = value
  }
  return limits
}

/** What every trigger knows when it starts a run; `runTask` makes the task of it. */
export interface TaskFields {
  kind: HandlerKind
  program: ProgramRef
  input: unknown
  env: Record<string, string>
  /** The process defaults and the script's own limits over them (see mergeLimits). */
  defaults: RunLimits
  limits: Partial<Record<keyof RunLimits, unknown>> | null | undefined
  executionId: string
  eventDepth?: number | null | undefined
}

/** The one way a RunTask is built (HTTP, cron, events, manual runs). */
export function runTask(fields: TaskFields): RunTask {
  return {
    kind: fields.kind,
    program: fields.program,
    input: fields.input,
    env: fields.env,
    limits: mergedLimits(fields.defaults, fields.limits),
    trace: { executionId: fields.executionId, eventDepth: fields.eventDepth ?? null },
  }
}

/**
 * Merged limits by the script's own limits object, frozen: every run of a route (or a cron job)
 * gets the same object, so its head is written once (encodeTask). Weak: a script's limits let go
 * (a route replaced) take their merge along.
 */
const merges = new WeakMap<object, { defaults: RunLimits; limits: RunLimits }>()

function mergedLimits(defaults: RunLimits, overrides: TaskFields['limits']): RunLimits {
  const key = overrides ?? defaults
  const held = merges.get(key)
  if (held !== undefined && held.defaults === defaults) return held.limits
  const limits = Object.freeze(mergeLimits(defaults, overrides))
  merges.set(key, { defaults, limits })
  return limits
}

/**
 * What a runner let go of one tenant (a deleted or suspended tenant, see `TenantEvictor`):
 * isolates disposed (each once its runs in flight are done) and compiled programs with them.
 */
export interface Evicted {
  isolates: number
  programs: number
}

/**
 * Lets go at once of everything held for one tenant: its isolates, their compiled programs and
 * contexts, and the program sources kept to compile them again. Runs in flight finish on the
 * isolate they started in; a later run of the tenant starts cold. Without this a deleted tenant's
 * isolates would stay until the idle timeout (`isolateIdleMs`).
 */
export interface TenantEvictor {
  evict(tenantId: string): Promise<Evicted>
}

/** Adds up what several runners (processes, threads) evicted. */
export function sumEvicted(all: Iterable<Evicted | null>): Evicted {
  const sum: Evicted = { isolates: 0, programs: 0 }
  for (const evicted of all) {
    if (evicted === null) continue
    sum.isolates += evicted.isolates
    sum.programs += evicted.programs
  }
  return sum
}

export interface CheckResult {
  ok: boolean
  handlers: HandlerKind[]
  error?: ErrorData | undefined
}
