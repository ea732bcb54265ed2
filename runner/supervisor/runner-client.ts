import { fork, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { RunnerError, fromErrorData } from '../errors.js'
import { FrameChannel, startedThrough, type Frame, type MissingProgram, type RunnerMessage, type RunnerResponse, type WireMessage } from '../framing.js'
import type { HostCallHandler, RelayedHostCall } from '../host-call-channel.js'
import { HostCallListener } from './host-call-listener.js'
import type { NearDrop, NearSource } from '../near-copies.js'
import type { IsolatePoolOptions } from '../process/isolate-pool.js'
import type { RunnerProcessNotice, RunnerProcessSettings } from '../process/runner-process.js'
import { decodeResult, encodeTask, type WireResult } from '../protocol.js'
import { hasEffect, markEffects, markRetryable } from './run-effects.js'
import { RunTable } from '../run-table.js'

/**
 * Host calls of one tenant the gateway answers at once for one runner process; its further calls
 * wait their turn in the tenant's lane (host-call-channel.ts). Far above what a tenant's runs need
 * for fast calls (a cache.get is answered within the turn it arrives), it bounds how deep one
 * tenant can fill a shared queue behind it (the database pool's) when its calls are slow.
 */
const HOST_CALLS_PER_TENANT = 64

export interface RunnerClientOptions {
  /** The runner-process module (.ts under a TypeScript loader, .js when built). */
  entry: URL
  /** Node flags of the child: `--no-node-snapshot` (isolated-vm) and the parent's loader. */
  execArgv: string[]
  /** The child's environment (malloc-tunables.ts runnerEnvironment); the parent's when left out. */
  env?: NodeJS.ProcessEnv | undefined
  socketPath: string
  pool: IsolatePoolOptions
  /** Once, when the runner accepts requests. */
  onReady(): void
  /**
   * Once, as soon as the runner is lost: its socket closed or its process exited, whichever
   * comes first (the socket often goes first). Every call in flight has been answered.
   */
  onLost(loss: RunnerLoss): void
  /** Once, when the process is gone, after `onLost`. */
  onExit(exit: RunnerExit): void
  /**
   * Once, when the serving runner says it cannot serve all its tenants any more (a worker thread
   * could not be replaced, runner-process.ts): it takes no new runs from then on (`ready` is
   * false), and answers the ones in flight.
   */
  onUnusable?(reason: string): void
  /** Answers the host calls the runner's scripts make (host-relay.ts); without it they fail. */
  hostCalls?: HostCallHandler | undefined
  /** The data whose answers the runner's threads may keep (near-copies.ts). */
  near?: NearSource | undefined
}

export interface RunnerLoss {
  /** The runner had been serving (false: it died while starting). */
  wasReady: boolean
  /** Ended by `close()`, not by a crash. */
  requested: boolean
  /** Tenants with runs in flight when the runner was lost, by their oldest run in flight, oldest first. */
  tenants: Set<string>
  lostCalls: number
  /**
   * Lost because it printed a fatal V8 or Node error (see FATAL_LINE): it is aborting, of its own
   * doing, and its exit comes once the kernel has freed its memory (about 130 ms for 1.5 GB).
   */
  fatal: boolean
}

/**
 * The first line V8 or Node prints before aborting the process: a heap out of memory (V8's GC
 * trace), Node's fatal error, V8's fatal error or invalid size. Nothing else a runner prints
 * starts a line so; a script's own output never reaches the runner's stderr.
 */
const FATAL_LINE = /^(?:<--- Last few GCs --->|FATAL ERROR: |# Fatal (?:error in|JavaScript))/m
/** A runner that printed a fatal error and is still there after this is killed. */
const FATAL_EXIT_GRACE_MS = 10_000

export interface RunnerExit {
  pid: number | undefined
  code: number | null
  signal: NodeJS.Signals | null
}

interface Call {
  id: number
  /** Kept whole until answered: a runner that lacks the program's source gets the request again with it. */
  message: RunnerMessage
  tenantId: string | null
  /** A host call with an effect was made for the tenant while this run was in flight (run-effects.ts). */
  effects: boolean
  resolve(value: unknown): void
  reject(error: Error): void
}

/** How long after a tenant's last run here its late host calls are still answered (see #lately). */
const LATE_CALL_GRACE_MS = 1000

/** Program keys remembered as sent before the memo starts over (a source is sent again: no harm). */
const MAX_SENT_PROGRAMS = 10_000

/**
 * One runner process seen from the gateway, from fork to exit: the child, its socket, and the
 * calls in flight on it. A crashed runner is not revived here; RunnerSupervisor starts a new
 * RunnerClient in its place.
 */
export class RunnerClient {
  readonly #options: RunnerClientOptions
  readonly #child: ChildProcess
  /** Requests in flight by id, oldest first (ids grow). Not a Map: see run-table.ts. */
  readonly #calls = new RunTable<number, Call>()
  /** Runs in flight per tenant: a host call is answered only for a tenant with a run here. */
  readonly #tenantRuns = new Map<string, number>()
  readonly #hostCalls: HostCallListener
  /** Tenants whose last run here ended lately, by when: their calls may still be on a thread's socket (admitHostCall). */
  readonly #recentTenants = new Map<string, number>()
  readonly #exited: Promise<void>
  #socket: Socket | null = null
  #channel: FrameChannel | null = null
  #nextId = 1
  /** Programs whose source this runner has been sent (it may have let some go: then it asks). */
  readonly #sentPrograms = new Set<string>()
  /** Heads of tasks (WireTask.head) whose text this runner has been sent. */
  readonly #sentHeads = new Set<number>()
  #ready = false
  #closing = false
  #lost = false
  /** It printed a fatal error (RunnerLoss.fatal). */
  #fatal = false
  /** The end of what it printed last, when that ended inside a line. */
  #stderrTail = ''
  /** Why it said it cannot serve (RunnerProcessNotice 'unusable'); null while it can. */
  #unusable: string | null = null
  /** Called once no call is in flight (`idle`). */
  #onIdle: (() => void) | null = null
  /**
   * Fences sent to the runner and not answered yet (a runner without worker threads that a
   * synchronous step held): it is held while one is out. A second hold can be told before the
   * first fence's answer, which comes on the other socket: each gets its own fence.
   */
  #fences = 0

  constructor(options: RunnerClientOptions) {
    this.#options = options
    // Fair lanes (issue 20 item 4): one tenant's flood of host calls waits in its own lane, never ahead of another tenant's call.
    // Its worker threads send their host calls straight here (host-call-listener.ts), not through its main thread.
    this.#hostCalls = new HostCallListener({
      path: `${options.socketPath}.host`,
      handler: options.hostCalls,
      admit: (call) => this.#admitHostCall(call),
      lanes: { maxPerTenant: HOST_CALLS_PER_TENANT },
      near: options.near,
      onHeld: (mark) => this.#onHeld(mark),
    })
    const pool = options.hostCalls === undefined ? options.pool : { ...options.pool, hostSocket: this.#hostCalls.path }
    const settings: RunnerProcessSettings = { socketPath: options.socketPath, pool, holdSocket: this.#hostCalls.path }
    this.#child = fork(fileURLToPath(options.entry), [JSON.stringify(settings)], {
      execArgv: options.execArgv,
      env: options.env ?? process.env,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    // Its stderr passes through, watched for a fatal error: the runner is lost from that line on,
    // not from its exit, which for a large process comes over 100 ms later.
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk)
      this.#watchStderr(chunk.toString())
    })
    this.#child.on('message', (notice: RunnerProcessNotice) => {
      if (notice?.type === 'listening' && this.#socket === null) this.#connect()
      else if (notice?.type === 'unusable') this.#markUnusable(String(notice.reason))
    })
    this.#exited = new Promise((resolve) => {
      let done = false
      const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return
        done = true
        this.#onExit(code, signal)
        resolve()
      }
      this.#child.once('exit', exited)
      // A child that could not be spawned emits 'error' and never 'exit'.
      this.#child.once('error', () => {
        if (this.#child.pid === undefined) exited(null, null)
      })
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  get ready(): boolean {
    return this.#ready && !this.#lost && this.#unusable === null
  }

  /**
   * A synchronous step of one of its tenants holds the runner (one without worker threads): runs
   * sent now wait for the step's end. Its tenants' runs go to another runner meanwhile
   * (RunnerSupervisor), until the runner has read the fence.
   */
  get held(): boolean {
    return this.#fences > 0
  }

  /** Resolves once no call is in flight here, or the runner is lost; at most one waiter. */
  idle(): Promise<void> {
    if (this.#calls.size === 0 || this.#lost) return Promise.resolve()
    return new Promise((resolve) => {
      this.#onIdle = resolve
    })
  }

  #settled(): void {
    if (this.#calls.size > 0 || this.#onIdle === null) return
    const resolve = this.#onIdle
    this.#onIdle = null
    resolve()
  }

  get inFlight(): number {
    return this.#calls.size
  }

  /** A change of a tenant's data whose answers this runner's threads may keep (NearSource.onDrop). */
  dropNear(drop: NearDrop): void {
    this.#hostCalls.dropNear(drop)
  }

  /** Runs of the tenant in flight here now. */
  runsOf(tenantId: string): number {
    return this.#tenantRuns.get(tenantId) ?? 0
  }

  /** Sends one request; `tenantId` marks whose run it is, for crash attribution. */
  call(message: RunnerMessage, tenantId: string | null): Promise<unknown> {
    const channel = this.#channel
    if (!this.ready || channel === null) return Promise.reject(new RunnerError('RUNNER_UNAVAILABLE', 'the runner is not serving'))
    const id = this.#nextId++
    if (tenantId !== null) this.#tenantRuns.set(tenantId, (this.#tenantRuns.get(tenantId) ?? 0) + 1)
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { id, message, tenantId, effects: false, resolve, reject })
      channel.send({ id, message: this.#wire(message, false) })
    })
  }

  /** A run names its program; the source goes along only the first time (or when asked again). */
  #wire(message: RunnerMessage, withSource: boolean): WireMessage {
    if (message.type !== 'run') return message
    const task = encodeTask(message.task)
    // The tenant's version now: a change acknowledged before this run was sent is seen by it (near-copies.ts).
    if (this.#options.near !== undefined) task.near = this.#options.near.versionOf(task.tenantId)
    if (withSource || !this.#sentPrograms.has(task.key)) {
      if (this.#sentPrograms.size >= MAX_SENT_PROGRAMS) this.#sentPrograms.clear()
      this.#sentPrograms.add(task.key)
    } else {
      task.source = undefined
    }
    // The head's text goes the first time, and with the source (the runner may have let it go: then it asks).
    if (withSource || !this.#sentHeads.has(task.head)) {
      if (this.#sentHeads.size >= MAX_SENT_PROGRAMS) this.#sentHeads.clear()
      this.#sentHeads.add(task.head)
    } else {
      task.json = undefined
    }
    return { type: 'run', task }
  }

  /** The runner lacks the program's source after all: the same request again, with it. */
  #resend({ id, missing }: MissingProgram): void {
    const call = this.#calls.get(id)
    if (call === undefined || this.#channel === null) return
    const task = call.message.type === 'run' ? call.message.task : null
    if (task === null || task.program.source === undefined) {
      this.#calls.delete(id)
      this.#forgetRun(call.tenantId)
      call.reject(new RunnerError('RUNNER_UNAVAILABLE', `the runner asked for the source of program ${missing}, which this request does not have`))
      this.#settled()
      return
    }
    this.#channel.send({ id, message: this.#wire(call.message, true) })
  }

  /** Stops the runner: it closes its pool and exits; killed if it has not within `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      // Closing the IPC channel is the runner's signal to stop (it ignores SIGTERM and SIGINT).
      if (this.#child.connected) this.#child.disconnect()
      else this.#child.kill('SIGKILL')
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs)
      await this.#exited
      clearTimeout(timer)
    }
    await this.#exited
  }

  #connect(): void {
    this.#channel = FrameChannel.connect(
      this.#options.socketPath,
      (value) => this.#receive(value as Frame),
      (error) => {
        // A runner that speaks garbage is as good as crashed.
        process.emitWarning(error)
        this.#child.kill('SIGKILL')
      },
    )
    const socket = this.#channel.socket
    this.#socket = socket
    socket.once('connect', () => {
      this.#ready = true
      // One that said it is unusable before this side connected never serves: it is replaced.
      if (this.#unusable !== null) this.#options.onUnusable?.(this.#unusable)
      else this.#options.onReady()
    })
    socket.on('error', () => socket.destroy())
    socket.once('close', () => {
      // The socket goes when the process goes, often before 'exit' is reported (a SIGABRT may
      // still be writing a core file): answer the calls now, and make sure the process is gone.
      // One that printed a fatal error is aborting: a SIGKILL now could end it first and pass for
      // an outside signal (crash-blame.ts), so it gets a grace.
      this.#loseCalls()
      if (this.#closing || this.#child.exitCode !== null || this.#child.signalCode !== null) return
      if (!this.#fatal) this.#child.kill('SIGKILL')
      else
        setTimeout(() => {
          if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL')
        }, FATAL_EXIT_GRACE_MS).unref()
    })
  }

  #receive(frame: Frame): void {
    if ('hostCall' in frame || 'hostCancel' in frame) {
      if (this.#channel !== null) this.#hostCalls.receive(this.#channel, frame)
    } else if ('missing' in frame) this.#resend(frame)
    else if ('fenced' in frame) this.#fences = Math.max(0, this.#fences - 1)
    else this.#answer(frame as RunnerResponse)
  }

  /**
   * The runner's hold watcher says a synchronous step holds it (process/runner-hold.ts), and names
   * the last run it started by its id's low bits. The runner starts none of the runs sent after
   * that one until it reads the fence sent now: they are taken back here, unstarted, and answer
   * RUNNER_UNAVAILABLE marked retryable, which RunnerSupervisor runs again on another runner.
   */
  #onHeld(mark: number): void {
    const channel = this.#channel
    if (channel === null || this.#lost) return
    this.#fences++
    const through = startedThrough(mark, this.#nextId - 1)
    const withdrawn = this.#calls.values().filter((call) => call.id > through && call.message.type === 'run')
    const moved = new RunnerError('RUNNER_UNAVAILABLE', 'another tenant\'s synchronous step held the runner before this run started', { retryable: true })
    for (const call of withdrawn) {
      this.#calls.delete(call.id)
      this.#forgetRun(call.tenantId)
      call.reject(moved)
    }
    channel.send({ fence: true })
    if (this.#onIdle !== null) this.#settled()
  }

  /**
   * The tenant of a host call was bound by the runner's bridge; answering only for a tenant with a
   * run in flight here means a runner can only act for tenants the gateway sent it.
   */
  #admitHostCall(call: RelayedHostCall): Error | null {
    if (!this.#tenantRuns.has(call.tenantId) && !this.#lately(call.tenantId)) return Object.assign(new Error('host APIs can only be called while a run is in progress'), { code: 'HOST_CALL_FAILED' })
    if (hasEffect(call.name)) markEffects(this.#calls.values(), call.tenantId)
    return null
  }

  /**
   * The runner cannot serve all its tenants any more: it said so over its IPC channel, or answered
   * a run with a retryable RUNNER_UNAVAILABLE (a thread that could not start), whichever came
   * first. The two channels keep no order between them: from the first word on, no run goes there.
   */
  #markUnusable(reason: string): void {
    if (this.#unusable !== null) return
    this.#unusable = reason
    // Said before this side connected: told instead of onReady once it has (#connect).
    if (this.#ready) this.#options.onUnusable?.(reason)
  }

  #answer(response: RunnerResponse): void {
    const call = this.#calls.get(response.id)
    if (call === undefined) return
    if (response.error?.code === 'RUNNER_UNAVAILABLE' && response.error.retryable === true) this.#markUnusable(response.error.message)
    this.#calls.delete(response.id)
    this.#forgetRun(call.tenantId)
    if (response.error === undefined) call.resolve(markRetryable(call.message.type === 'run' ? decodeResult(response.value as WireResult) : response.value, call.effects))
    else call.reject(fromErrorData(response.error))
    if (this.#onIdle !== null) this.#settled()
  }

  /** Watches what the runner prints for a fatal error's first line, across chunks. */
  #watchStderr(text: string): void {
    if (this.#fatal || this.#closing || this.#lost) return
    const seen = this.#stderrTail + text
    const lastLine = seen.lastIndexOf('\n')
    this.#stderrTail = seen.slice(lastLine + 1).slice(-64)
    if (!FATAL_LINE.test(seen)) return
    this.#fatal = true
    // Lost from now: its calls are answered (or run again), and whatever it still sends is not read.
    this.#loseCalls()
    this.#socket?.destroy()
  }

  #loseCalls(): void {
    if (this.#lost) return
    this.#lost = true
    const tenants = new Set<string>()
    for (const call of this.#calls.values()) if (call.tenantId !== null) tenants.add(call.tenantId)
    const lostCalls = this.#calls.size
    const stopped = new RunnerError('RUNNER_UNAVAILABLE', 'the runner was stopped')
    for (const call of this.#calls.values()) {
      // A run that caused no effect yet may be run again elsewhere (RunnerSupervisor retries it once).
      call.reject(this.#closing ? stopped : new RunnerError('RUNNER_CRASHED', 'the runner process executing this run crashed', { retryable: !call.effects }))
    }
    this.#calls.clear()
    this.#tenantRuns.clear()
    this.#recentTenants.clear()
    this.#hostCalls.close()
    this.#settled()
    this.#options.onLost({ wasReady: this.#ready, requested: this.#closing, tenants, lostCalls, fatal: this.#fatal })
  }

  #forgetRun(tenantId: string | null): void {
    if (tenantId === null) return
    const runs = (this.#tenantRuns.get(tenantId) ?? 1) - 1
    if (runs > 0) {
      this.#tenantRuns.set(tenantId, runs)
      return
    }
    this.#tenantRuns.delete(tenantId)
    const now = performance.now()
    this.#recentTenants.delete(tenantId)
    this.#recentTenants.set(tenantId, now)
    // Oldest first: drop those past the grace.
    for (const [tenant, ended] of this.#recentTenants) {
      if (now - ended <= LATE_CALL_GRACE_MS) break
      this.#recentTenants.delete(tenant)
    }
  }

  /**
   * Whether the tenant's last run here ended within LATE_CALL_GRACE_MS. A call its run made and
   * did not await left the thread before the run's answer did, but on the thread's own socket,
   * while the answer goes through the runner's main thread: the two may reach the gateway in
   * either order. The runner's bridge refuses calls of runs that ended, so a runner in order
   * sends none later than that.
   */
  #lately(tenantId: string): boolean {
    const ended = this.#recentTenants.get(tenantId)
    return ended !== undefined && performance.now() - ended <= LATE_CALL_GRACE_MS
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#loseCalls()
    this.#socket?.destroy()
    rmSync(this.#options.socketPath, { force: true })
    this.#options.onExit({ pid: this.#child.pid, code, signal })
  }
}
