import { performance } from 'node:perf_hooks'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { Piscina } from 'piscina'
import { RunnerError } from '../errors.js'
import type { WireResult, WireTask } from '../protocol.js'
import { CpuGate } from './cpu-gate.js'
import { HoldWatch, type OfferedRun } from './hold-watch.js'
import { FairTaskQueue } from './fair-task-queue.js'
import { ProgramMissing, type ProgramSources } from './program-sources.js'
import { SlotShares } from './slot-shares.js'
import { threadEntry } from './thread-entry.js'
import type { CpuShares } from './cpu-shares.js'
import { RunTable } from '../run-table.js'
import type { CallReply, ConnectTask, PortMessage, PortReply, ThreadAnswer, ThreadRun, WorkerMessage, WorkerSettings } from '../thread/worker.js'

export interface WorkerShardOptions {
  workerUrl: URL
  settings: Omit<WorkerSettings, 'claims'>
  concurrentTasksPerWorker: number
  /**
   * Each tenant's CPU rate, shared by the pool's shards (a tenant whose runs move or spill to
   * another thread brings its rate along): over IsolatePoolOptions.tenantCpuShare it waits while
   * other tenants use the thread.
   */
  cpu: CpuShares
  /** Where a source comes from when the thread lacks a program and the run does not carry it. */
  sources: ProgramSources
  /**
   * One synchronous step has held the thread for HOLD_MS while a run waits unread (a program that
   * earned synchronous steps spins). The pool may take the shard's unstarted runs (`withdraw`) to
   * another thread.
   */
  onStall?: (shard: WorkerShard) => void
  /**
   * The thread failed while starting, and piscina starts no other: the shard answers every run
   * and call RUNNER_UNAVAILABLE from now on (a runner process ends, see runner-process.ts).
   */
  onStartFailure?: (error: RunnerError) => void
}

/** A run given to the shard and not answered yet (and, once sent, watched: hold-watch.ts). */
export interface PendingRun extends OfferedRun {
  seq: number
  task: WireTask
  /** The port (WorkerShard.#connection) it was sent on; 0 while it waits for a slot. */
  sentOn: number
  resolve(result: WireResult): void
  reject(error: Error): void
}

/** A run waiting for a slot on the thread, in its tenant's lane of the fair queue. */
interface Waiting {
  seq: number
  lane: string
}
/** Program keys remembered as held by the thread before the memo starts over (a source is re-sent, no harm). */
const MAX_SENT = 10_000
/** How long closing waits for the thread to let its isolates go (runs in flight finish first) before ending it. */
const SHUTDOWN_WAIT_MS = 10_000

/**
 * One worker thread, as a single-thread piscina pool. isogate pins each tenant to a home
 * thread so its isolate and compiled programs stay warm; piscina's load balancer only sees
 * task ids, not payloads, so affinity is chosen here, one shard per thread, and piscina keeps
 * what it is good at: starting the thread, replacing a crashed one, ending it. Its one task per
 * thread hands the thread a port of the shard's own (`connect`), and runs, their answers and the
 * shard's calls cross that port in order: a piscina task per batch cost a task record, a
 * promise, a timing histogram and a wake-up on each side, and its answer a second message (the
 * answers of runs done after the batch's turn came on a channel of their own).
 *
 * Runs reach the thread in batches: at most `concurrentTasksPerWorker` runs are on the thread at
 * once, shared fairly across its tenants (a tenant under its share may borrow a slot that one over
 * its share holds, slot-shares.ts); the rest wait in the fair queue (one lane per tenant,
 * round-robin, fair-task-queue.ts),
 * and the runs that can start in one turn (a socket read's worth of frames, or the slots freed by
 * one message of answers) go as one message per tenant: one postMessage and one wake-up.
 * Per tenant, not one for all: the thread drains its microtasks between two messages, so the
 * answers of one tenant's runs that finished leave before the next tenant's runs start. In one
 * message, a neighbour's synchronous step that suddenly spun held them for the whole spin
 * (test/held-thread.test.ts; tried in session 20: 1,000 tenants spread served 1.05-1.4x, and the
 * bench's victim beside a sudden spin waited 1,013 ms).
 * Each run's answer comes back as soon as it is done (batched per turn by the thread, see
 * worker.ts). A port that closes is a thread that died (or the pool closing): the runs and calls
 * sent on it and not answered answer RUNNER_CRASHED (messages the thread sent before it died
 * arrive before the close), and the replacement thread gets a new port.
 *
 * A tenant's runs execute in its isolate on isolated-vm's pool, one at a time, so a slot says
 * nothing of CPU: a tenant spinning its CPU limit run after run keeps a core busy with a few slots.
 * So the shard also weighs each tenant's CPU rate from its runs' charged CPU, which each answer
 * carries (cpu-shares.ts): a tenant over its CPU share starts no run, not even a borrowed one,
 * while a tenant under the share has runs on the thread or waiting for it; its runs wait in the
 * fair queue until its rate has decayed (a timer fills the thread then) or the others are gone.
 *
 * A synchronous step that holds the thread (a program that earned synchronous first steps, then
 * spins) would hold every run in its inbox too: the shard's HoldWatch sees it (hold-watch.ts) and
 * the pool takes the runs the thread has not started to another thread (`withdraw`).
 *
 * A run names its program; its source goes to the thread only while the thread is not known to
 * hold it. A thread that lacks it after all (it let the program go) answers `missing`, and the
 * run is sent again with the source.
 */
export class WorkerShard {
  readonly #pool: Piscina
  readonly #sources: ProgramSources
  /** The thread's port, and its number (each connection's, from 1; PendingRun.sentOn). */
  #port!: MessagePort
  #connection = 0
  /** Calls sent on the port and not answered, by their number. */
  readonly #calls = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  #nextCall = 1
  /**
   * The thread failed while starting (its module did not load), after which piscina starts no
   * other: every run and call is answered with this at once rather than left waiting.
   */
  #startFailure: RunnerError | null = null
  /** By seq: one entry per run, so not a Map (see ../run-table.ts). */
  readonly #pending = new RunTable<number, PendingRun>()
  /** Runs waiting for a slot on the thread, fair across tenants. */
  readonly #waiting = new FairTaskQueue<Waiting>()
  /** Runs on the thread (sent, not answered), per tenant: slots shared fairly (slot-shares.ts). */
  readonly #shares: SlotShares
  /** Tenants over their CPU share wait while others use the thread (cpu-gate.ts). */
  readonly #cpu: CpuGate
  /** Runs to send this turn, by lane (tenant), with their sources decided. */
  #queued = new Map<string, ThreadRun[]>()
  /** Programs whose source the thread has been sent. */
  readonly #sent = new Set<string>()
  /** Heads (WireTask.head) whose text the thread has been sent. */
  readonly #sentHeads = new Set<number>()
  /** Which sent runs the thread has started, and whether a synchronous step holds it (hold-watch.ts). */
  readonly #hold: HoldWatch
  #flushQueued = false
  #nextSeq = 1
  #crashes = 0
  #cpuHeldRuns = 0
  #closing = false

  constructor(options: WorkerShardOptions) {
    this.#sources = options.sources
    this.#shares = new SlotShares(options.concurrentTasksPerWorker)
    // A cell per run the thread may hold unstarted (twice its slots, with borrowing), and spare.
    this.#hold = new HoldWatch(4 * options.concurrentTasksPerWorker + 2, (seq) => this.#pending.get(seq), () => options.onStall?.(this))
    this.#cpu = new CpuGate(options.cpu, this.#shares, () => this.#fill())
    this.#pool = new Piscina({
      filename: threadEntry(options.workerUrl).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Piscina's default ('sync') parks an idle thread in Atomics.wait, which stops its event
      // loop: the port's messages, the idle-isolate timers, the spare-context preparation and a
      // host API's late callbacks would wait for the next piscina task. 'async' waits with
      // Atomics.waitAsync instead.
      atomics: 'async',
      // Under tsx the entry is tsx-worker.mjs; it finds the real worker module here.
      workerData: { ...options.settings, claims: this.#hold.buffer, tsxWorkerModule: options.workerUrl.href } satisfies WorkerSettings & { tsxWorkerModule: string },
    })
    // A thread that dies is reported as the pool's 'error' event (piscina has no task of it in
    // flight: runs cross the shard's port); unheard, it would end the whole runner process and
    // every tenant on it. Piscina has started a replacement already: say so and keep serving (the
    // runs the thread had answer RUNNER_CRASHED when its port closes).
    this.#pool.on('error', (error: unknown) => {
      // Piscina starts no other thread after one that failed while starting (its module did not
      // load): nothing will serve this shard, so every run and call is answered at once.
      if (!this.#closing && this.#pool.threads.length === 0) {
        const reason = error instanceof Error ? error.message : String(error)
        // Retryable: none of these runs started, and the gateway replaces this runner (runner-client.ts).
        this.#startFailure = new RunnerError('RUNNER_UNAVAILABLE', `the runner's worker thread could not start: ${reason}`, { retryable: true }, { cause: error })
        this.#failAll(this.#startFailure)
        options.onStartFailure?.(this.#startFailure)
        return
      }
      process.emitWarning(new Error('a runner worker thread died; it was replaced', { cause: error }))
    })
    this.#connect()
  }

  /**
   * A new port to the thread, handed over by piscina's one task (the thread piscina has now, or
   * the one it starts next). Messages sent before the thread reads it wait in the port.
   */
  #connect(): void {
    const { port1: port, port2: theirs } = new MessageChannel()
    const connection = ++this.#connection
    port.on('message', (reply: PortReply) => {
      if (Array.isArray(reply)) this.#onAnswers(reply)
      else this.#onReply(reply)
    })
    // The port's close and the connect task's outcome come on different ports, in either order:
    // the connection is over once both are in.
    let closed = false
    let settled = false
    const over = (): void => {
      if (closed && settled) this.#disconnected(connection)
    }
    port.on('close', () => {
      closed = true
      over()
    })
    // Only while runs or calls wait for their answers does the port hold the event loop.
    if (this.#pending.size === 0 && this.#calls.size === 0) port.unref()
    this.#port = port
    const task: ConnectTask = { type: 'connect', port: theirs }
    this.#pool.run(task, { transferList: [theirs] }).then(
      () => {
        settled = true
        over()
      },
      () => {
        settled = true
        // The thread died before it took the port, which then does not close by itself.
        if (closed) over()
        else port.close()
      },
    )
  }

  /** Answers every call, and every run (or those sent on connection `sentOn`), with `error`. */
  #failAll(error: RunnerError, sentOn?: number): void {
    for (const pending of this.#pending.values()) {
      if (sentOn !== undefined && pending.sentOn !== sentOn) continue
      this.#pending.delete(pending.seq)
      this.#settled(pending)
      pending.reject(error)
    }
    const calls = [...this.#calls.values()]
    this.#calls.clear()
    for (const call of calls) call.reject(error)
  }

  /**
   * Connection `connection`'s port closed: its thread died (or the pool closed). What it was sent
   * and did not answer is lost with it; a live shard connects to the replacement thread.
   */
  #disconnected(connection: number): void {
    if (connection !== this.#connection) return
    // The replacement holds no program, and is in no synchronous step. Counted here, before its
    // runs are answered, not on piscina's 'workerDestroy', which may come after: whoever heard
    // RUNNER_CRASHED and asks for the stats then finds the crash counted.
    this.#sent.clear()
    this.#sentHeads.clear()
    this.#hold.threadGone()
    if (!this.#closing) this.#crashes++
    this.#failAll(crashed(new Error('the worker thread ended')), connection)
    if (this.#closing || this.#startFailure !== null) return
    this.#connect()
    this.#fill()
  }

  /** Holds the event loop only while something waits for the thread's answer. */
  #holdLoop(): void {
    if (this.#pending.size === 0 && this.#calls.size === 0) this.#port.unref()
    else this.#port.ref()
  }

  /** Threads of this shard that died (each replaced by piscina). */
  get crashes(): number {
    return this.#crashes
  }

  /** Runs that arrived while their tenant was held back for its CPU share (cpu-gate.ts): they waited for its rate to decay. */
  get cpuHeldRuns(): number {
    return this.#cpuHeldRuns
  }

  /** Runs sent to this thread and not answered yet. */
  get inFlight(): number {
    return this.#pending.size
  }

  /** Runs of one tenant on this thread (sent, not answered) or waiting for a slot on it. */
  inFlightOf(tenantId: string): number {
    return this.#shares.runsOf(tenantId)
  }

  /** A synchronous step holds the thread while runs wait unread (hold-watch.ts). */
  get stalled(): boolean {
    return this.#hold.held
  }

  /** Runs an encoded task (protocol.ts WireTask); its result comes back encoded, as the gateway gets it. */
  run(task: WireTask): Promise<WireResult> {
    if (this.#startFailure !== null) return Promise.reject(this.#startFailure)
    const seq = this.#nextSeq++
    return new Promise<WireResult>((resolve, reject) => {
      const pending: PendingRun = { seq, task, resolve, reject, claim: 0, sentAt: 0, sentOn: 0 }
      if (this.#pending.size === 0) this.#port.ref()
      this.#pending.set(seq, pending)
      const lane = task.tenantId
      const held = this.#cpu.held(lane)
      if (held) this.#cpuHeldRuns++
      if (!held && this.#shares.mayStart(lane, this.#waiting.size === 0)) {
        this.#shares.start(lane)
        this.#queue(seq, pending, false)
      } else {
        this.#shares.wait(lane)
        this.#waiting.push({ seq, lane }, lane)
        // A free slot with runs waiting: they are held back for their CPU; this run may not be.
        if (this.#shares.free) this.#fill()
      }
    })
  }

  /**
   * Fills the thread's free slots from the fair queue, round-robin across tenants; then lets the
   * tenants under their share of the slots borrow one each for their waiting runs (slot-shares.ts).
   * Tenants held back for their CPU are passed over.
   */
  #fill(): void {
    while (this.#shares.free) {
      const next = this.#waiting.shift(this.#cpu.isHeld)
      if (next === null) return
      this.#startWaiting(next)
    }
    if (this.#waiting.size === 0) return
    for (const lane of this.#shares.borrowers()) {
      if (this.#cpu.held(lane)) continue
      while (this.#shares.mayBorrow(lane)) {
        const next = this.#waiting.shiftLane(lane)
        if (next === null) break
        this.#startWaiting(next)
      }
    }
  }

  #startWaiting(next: Waiting): void {
    this.#shares.start(next.lane, true)
    const pending = this.#pending.get(next.seq)
    // Gone already (the pool closed): its place is given back at once.
    if (pending === undefined) this.#shares.leave(next.lane)
    else this.#queue(next.seq, pending, false)
  }

  /** A run left the thread (answered, or lost with it). */
  #settled(pending: PendingRun): void {
    this.#hold.release(pending)
    this.#shares.leave(pending.task.tenantId)
    if (this.#pending.size === 0) this.#holdLoop()
  }

  /**
   * Takes back every run the thread has not started (sent and unread, or waiting for a slot), for
   * another thread to run while this one is held. The thread skips a withdrawn run when it reads it.
   */
  withdraw(): PendingRun[] {
    const moved: PendingRun[] = []
    for (const seq of this.#hold.takeOffered()) {
      const pending = this.#pending.get(seq)
      if (pending === undefined || !this.#hold.withdraw(seq, pending)) continue
      this.#pending.delete(seq)
      this.#settled(pending)
      moved.push(pending)
    }
    // Runs held back for their tenant's CPU stay: they wait for the tenant's rate, not for this thread.
    for (let next = this.#waiting.shift(this.#cpu.isHeld); next !== null; next = this.#waiting.shift(this.#cpu.isHeld)) {
      this.#shares.withdraw(next.lane)
      const pending = this.#pending.get(next.seq)
      if (pending === undefined) continue
      this.#pending.delete(next.seq)
      moved.push(pending)
    }
    if (this.#pending.size === 0) this.#holdLoop()
    return moved
  }

  /**
   * A request that is not a run (check, stats, evict): one task of its own, outside the tenants'
   * lanes. Runs handed to this shard before it go to the thread first: an eviction must not
   * overtake a run of the tenant that the same socket read brought just before it (the run
   * would make the isolate again, after the eviction).
   */
  call<T>(message: WorkerMessage): Promise<T> {
    if (this.#startFailure !== null) return Promise.reject(this.#startFailure)
    if (this.#flushQueued) this.#flush()
    return new Promise<T>((resolve, reject) => {
      const call = this.#nextCall++
      this.#calls.set(call, { resolve: resolve as (value: unknown) => void, reject })
      this.#port.ref()
      this.#port.postMessage({ call, message } satisfies PortMessage)
    })
  }

  #onReply(reply: CallReply): void {
    const call = this.#calls.get(reply.call)
    if (call === undefined) return
    this.#calls.delete(reply.call)
    this.#holdLoop()
    if (reply.error === undefined) call.resolve(reply.value)
    else call.reject(crashed(new Error(reply.error)))
  }

  async close(): Promise<void> {
    this.#closing = true
    // The thread lets its isolates go before piscina ends it (IsolateHost.shutdown): ending it
    // while isolated-vm's pool executes an isolate's code in a synchronous call to the thread
    // would hang the ending thread, and the process with it. Bounded: a thread that does not
    // answer is ended anyway.
    let waited: NodeJS.Timeout | undefined
    await Promise.race([
      this.call({ type: 'shutdown' }).catch(() => null),
      new Promise((resolve) => {
        waited = setTimeout(resolve, SHUTDOWN_WAIT_MS)
      }),
    ])
    clearTimeout(waited)
    this.#hold.close()
    this.#cpu.close()
    this.#port.close()
    await this.#pool.close({ force: true })
    // Runs still waiting for a slot never reached the thread: they end as the ones on it did.
    const left = this.#pending.values()
    this.#pending.clear()
    for (const pending of left) pending.reject(crashed(new Error('the pool was closed')))
  }

  #queue(seq: number, pending: PendingRun, resend: boolean): void {
    const { task } = pending
    const key = task.key
    let source: string | undefined
    if (resend || !this.#sent.has(key)) {
      source = task.source ?? this.#sources.get(key)
      if (source !== undefined) {
        if (this.#sent.size >= MAX_SENT) this.#sent.clear()
        this.#sent.add(key)
      }
    }
    // The head's text goes the first time, and with a source sent again (the thread may have let it go: then it asks).
    let json: string | undefined
    if (resend || !this.#sentHeads.has(task.head)) {
      json = task.json
      if (this.#sentHeads.size >= MAX_SENT) this.#sentHeads.clear()
      this.#sentHeads.add(task.head)
    }
    // The source and head are copied to the thread only when they go; otherwise the run names them.
    const sent: WireTask = source === task.source && json === task.json ? task : { tenantId: task.tenantId, key: task.key, source, head: task.head, json, trace: task.trace, near: task.near, args: task.args, body: task.body }
    const lane = task.tenantId
    let runs = this.#queued.get(lane)
    if (runs === undefined) {
      runs = []
      this.#queued.set(lane, runs)
    }
    this.#hold.offer(seq, pending)
    // Flushed in this turn's microtasks, before the port can close (a close is a message of its own).
    pending.sentOn = this.#connection
    runs.push({ seq, claim: pending.claim, task: sent })
    if (!this.#flushQueued) {
      this.#flushQueued = true
      // The frames of one socket read are handled in one go: a microtask sees them all queued.
      queueMicrotask(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushQueued = false
    const queued = this.#queued
    // A new Map, not clear(): V8 links a cleared table to the next, as it does a replaced one (../run-table.ts).
    this.#queued = new Map()
    // One message per tenant: the thread drains its microtasks between two messages, so the
    // answers of one tenant's runs that finished leave before the next tenant's runs start.
    for (const runs of queued.values()) this.#port.postMessage({ runs } satisfies PortMessage)
  }

  #onAnswers(answers: ThreadAnswer[]): void {
    this.#cpu.answered(performance.now())
    for (const answer of answers) {
      const pending = this.#pending.get(answer.seq)
      if (pending === undefined) continue
      if ('missing' in answer) {
        this.#sent.delete(answer.missing)
        this.#sentHeads.delete(pending.task.head)
        if (pending.task.source !== undefined || this.#sources.get(answer.missing) !== undefined) {
          this.#queue(answer.seq, pending, true)
          continue
        }
        this.#pending.delete(answer.seq)
        this.#settled(pending)
        pending.reject(new ProgramMissing(answer.missing))
        continue
      }
      this.#pending.delete(answer.seq)
      this.#cpu.charge(pending.task.tenantId, answer.cpuMs)
      this.#settled(pending)
      pending.resolve(answer.result)
    }
    this.#fill()
  }
}

function crashed(error: unknown): RunnerError {
  return new RunnerError('RUNNER_CRASHED', 'the worker thread running this run crashed', { threadOnly: true }, { cause: error })
}
