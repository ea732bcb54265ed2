/**
 * A runner worker thread (piscina task module): one IsolateHost for the tenants whose home this
 * thread is. At start it compiles the platform once and keeps V8 code cache of it (made here, in
 * this process), and loads the host API modules named in its settings.
 *
 * Piscina starts, replaces and ends the thread; its one task is `connect`, which hands the thread
 * its shard's port (worker-shard.ts). Everything else crosses that port: batches of runs (one
 * message per tenant per turn), their answers, and the shard's calls (check, stats, evict,
 * shutdown), in the order they were sent. A batch done within its turn answers in one message; a
 * run still going after that turn is answered on its own as soon as it is done, with the answers
 * of one turn in one message (the first after an idle turn at once).
 */
import { performance } from 'node:perf_hooks'
import { workerData, type MessagePort } from 'node:worker_threads'
import { claimRun } from '../run-claims.js'
import { decodeTask, encodeResult, type CheckResult, type Evicted, type WireResult, type WireTask } from '../protocol.js'
import type { WorkerStats } from './isolate-host.js'
import { collectGarbage, collectGarbageAtExit } from './collect-garbage.js'
import { hostFault, startIsolateHost, type ThreadHostSettings } from './thread-host.js'

export type { WorkerStats } from './isolate-host.js'

export interface WorkerSettings extends ThreadHostSettings {
  /** The cells in which the thread claims each run before starting it (run-claims.ts). */
  claims: SharedArrayBuffer
}

/** One run of a batch: `seq` is the shard's number for it, `claim` its cell (run-claims.ts). */
export interface ThreadRun {
  seq: number
  claim: number
  task: WireTask
}

/**
 * A run's answer: its result and the CPU it was charged (ms, its `metrics.cpuMs`, so the shard
 * weighs its tenant's CPU share without decoding the result), or the key of a program the thread
 * lacks and the run did not carry.
 */
export type ThreadAnswer = { seq: number; result: WireResult; cpuMs: number } | { seq: number; missing: string }

/** The thread's one piscina task: its shard's port, which every other message crosses. */
export interface ConnectTask {
  type: 'connect'
  port: MessagePort
}

/** What the shard asks of the thread besides runs; each is answered by a CallReply. */
export type WorkerMessage =
  | { type: 'check'; source: string }
  | { type: 'stats' }
  | { type: 'evict'; tenantId: string }
  /** The thread is about to end: its isolates go, and nothing of them is left executing (IsolateHost.shutdown). */
  | { type: 'shutdown' }

/** What the shard sends on the thread's port. */
export type PortMessage = { runs: ThreadRun[] } | { call: number; message: WorkerMessage }

/** The answer to call `call`: its value, or what it failed with. */
export interface CallReply {
  call: number
  value?: unknown
  error?: string
}

/** What the thread sends on its port: answers of runs, or a call's reply. */
export type PortReply = ThreadAnswer[] | CallReply

const settings = workerData as WorkerSettings
const claims = new Int32Array(settings.claims)
const { host, hostSocket } = await startIsolateHost(settings, claims)

/** The shard's port (`connect`): null until piscina hands it over. */
let port: MessagePort | null = null
let outgoing: ThreadAnswer[] = []
/** A turn is open: answers wait for its end. It closes after a turn that answered nothing. */
let turnOpen = false
/** Messages of runs this thread was sent (WorkerStats.runBatches). */
let runBatches = 0
/** The thread met an uncaught error and is ending (`end`): it starts no run and answers none. */
let ending = false
/** How long an ending thread waits for its isolates to go before it ends anyway. */
const END_WAIT_MS = 2_000

// An uncaught error ends the thread as Node would, but first its isolates go (nothing of them is
// left executing on isolated-vm's pool: IsolateHost.abandon), and its heap is collected as it
// exits: a thread that holds isolated-vm's handles and ends with a collection in progress aborts
// its whole runner process (collect-garbage.ts), every thread's tenants with it. The error is
// thrown again then, with no listener: piscina hears it and starts another thread, and the shard
// sees the port close and answers the runs it had RUNNER_CRASHED, as with a thread that died at once.
process.on('uncaughtException', end)

function end(error: unknown): void {
  process.off('uncaughtException', end)
  ending = true
  outgoing = []
  collectGarbageAtExit()
  const rethrow = (): never => {
    throw error
  }
  setTimeout(rethrow, END_WAIT_MS)
  // The thread's own error is what ends it, whatever letting the isolates go met.
  void host.abandon().catch(() => undefined).then(() => setImmediate(rethrow))
}

function answer(reply: ThreadAnswer): void {
  if (ending) return
  outgoing.push(reply)
  if (turnOpen) return
  turnOpen = true
  flushAnswers()
  setImmediate(endTurn)
}

function endTurn(): void {
  if (outgoing.length === 0) {
    turnOpen = false
    return
  }
  flushAnswers()
  setImmediate(endTurn)
}

function flushAnswers(): void {
  if (outgoing.length === 0 || ending) return
  const batch = outgoing
  outgoing = []
  port?.postMessage(batch satisfies PortReply)
}

/**
 * How long a batch keeps its runs' answers to send them together. Past it they go as the turns'
 * answers do: the shard weighs each tenant's CPU share by its answers (cpu-gate.ts), so a
 * batch of slow synchronous runs must not hold the first ones' answers until the last is done.
 */
const KEEP_ANSWERS_MS = 1

/**
 * Starts every run of the batch. A batch whose runs all end within the turn it arrived in and
 * within KEEP_ANSWERS_MS (most: no host call, no timer, short) settles with their answers, which
 * go back together in one message. Past either, its runs answer as the turns' answers do, the
 * ones that ended meanwhile first; the batch then settles with none, after the last.
 */
function runBatch(runs: ThreadRun[]): Promise<ThreadAnswer[]> {
  runBatches++
  let left = runs.length
  let kept: ThreadAnswer[] | null = []
  const began = performance.now()
  /** From now on the batch's runs answer on the channel, the ones kept so far first. */
  const release = (): void => {
    for (const reply of kept ?? []) answer(reply)
    kept = null
  }
  return new Promise((resolve) => {
    // At the end of the turn: a slow run of the batch holds no other run's answer.
    const turnOver = setImmediate(release)
    const done = (): void => {
      if (--left > 0) return
      clearImmediate(turnOver)
      if (kept !== null) {
        resolve(kept)
        return
      }
      flushAnswers()
      resolve([])
    }
    const reply = (message: ThreadAnswer): void => {
      if (kept !== null && performance.now() - began > KEEP_ANSWERS_MS) release()
      if (kept === null) answer(message)
      else kept.push(message)
      done()
    }
    for (const run of runs) {
      // Withdrawn while this thread was held: it ran on another thread.
      if (!claimRun(claims, run.claim, run.seq)) {
        done()
        continue
      }
      const task = decodeTask(run.task)
      // No await between this check and the run's compile lookup: what is held now is used. A
      // run whose head this thread let go is answered so too: it comes again with its head.
      if (task === null || (run.task.source === undefined && host.lacks(task))) {
        reply({ seq: run.seq, missing: run.task.key })
        continue
      }
      host.run(task).then(
        (result) => reply({ seq: run.seq, result: encodeResult(result), cpuMs: result.metrics.cpuMs }),
        // IsolateHost answers every failure as a result; a throw is a bug of the host's own.
        (error: unknown) => reply({ seq: run.seq, result: encodeResult(hostFault(error)), cpuMs: 0 }),
      )
    }
  })
}

async function answerCall(message: WorkerMessage): Promise<CheckResult | WorkerStats | Evicted | null> {
  switch (message.type) {
    case 'check':
      return host.check(message.source)
    case 'stats':
      return { ...host.stats(), keptAnswers: hostSocket?.near.hits ?? 0, runBatches }
    case 'evict':
      return host.evict(message.tenantId)
    case 'shutdown':
      await host.shutdown()
      await collectGarbage()
      return null
  }
}

function onPortMessage(from: MessagePort, message: PortMessage): void {
  // What an ending thread was sent is lost with it, as with a thread that died at once.
  if (ending) return
  if ('runs' in message) {
    void runBatch(message.runs).then((kept) => {
      if (kept.length > 0 && !ending) from.postMessage(kept satisfies PortReply)
    })
    return
  }
  const { call } = message
  const send = (reply: CallReply): void => {
    if (!ending) from.postMessage(reply satisfies PortReply)
  }
  answerCall(message.message).then(
    (value) => send({ call, value }),
    (error: unknown) => send({ call, error: error instanceof Error ? error.message : String(error) }),
  )
}

/** Piscina's task: the shard's port, which the thread reads from now on (a thread has one). */
export default function handle(task: ConnectTask): null {
  port?.close()
  const connected = task.port
  port = connected
  connected.on('message', (message: PortMessage) => onPortMessage(connected, message))
  return null
}
