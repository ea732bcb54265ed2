/**
 * A runner process: the child the gateway forks (runner-client.ts). It holds an IsolatePool
 * and serves run, check and stats requests from the gateway over a Unix domain socket.
 *
 * Why a process of its own: a tenant script can make V8 abort the whole process (measured:
 * `new Array(1e9).fill(0)` in a 64 MB isolate ends it with SIGABRT; isolated-vm issues #107,
 * #137, #527), so only the runs in flight here are lost, never the gateway.
 *
 * Started as `runner-process.js <settings JSON>`; it listens on `settings.socketPath`, accepts
 * exactly one connection (the gateway's), and tells the gateway over the IPC channel when it
 * listens. When the IPC channel closes (the gateway stopped or died) it exits, so a runner
 * never outlives its gateway.
 */
import { rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { RunnerError, toErrorData } from '../errors.js'
import { FrameChannel, type Frame, type RunnerRequest } from '../framing.js'
import { ProgramMissing } from './program-sources.js'
import { HostCaller, signalCancellation, type CallCancel, type RelayedHostCall } from '../host-call-channel.js'
import { IsolatePool, type IsolatePoolOptions } from './isolate-pool.js'
import type { RunnerPool } from './inline-pool.js'
import type { RunnerHold } from './runner-hold.js'
import { TenantTurns } from './tenant-turns.js'

export interface RunnerProcessSettings {
  socketPath: string
  pool: IsolatePoolOptions
  /**
   * The gateway's host-call socket of this runner, where a runner without worker threads reports
   * a synchronous step that holds it (runner-hold.ts); without it, a hold waits the step out.
   */
  holdSocket?: string
}

/**
 * What the runner tells the gateway over the IPC channel: it listens; or, once serving, it cannot
 * serve all its tenants any more (a worker thread that died could not be replaced), so the
 * gateway puts another runner in its place and stops this one when its runs in flight are done.
 */
export type RunnerProcessNotice = { type: 'listening' } | { type: 'unusable'; reason: string }

const settings = JSON.parse(process.argv[2] ?? '{}') as RunnerProcessSettings
if (typeof settings.socketPath !== 'string' || typeof process.send !== 'function') {
  process.stderr.write('runner-process: start it through RunnerSupervisor (needs settings and an IPC channel)\n')
  process.exit(2)
}

// `threads: 0` (ISOGATE_WORKERS=0): the runs execute on this thread, with no worker threads
// (inline-pool.ts), and a step that holds it is reported to the gateway (runner-hold.ts). Loaded
// only then: with worker threads, isolated-vm stays out of this thread.
const inline = settings.pool.threads === 0
const hold: RunnerHold | null = inline && settings.holdSocket !== undefined ? (await import('./runner-hold.js')).RunnerHold.start(settings.holdSocket) : null
const pool: RunnerPool =
  inline
    ? await (await import('./inline-pool.js')).InlinePool.create(settings.pool, hold ?? undefined)
    : new IsolatePool({ ...settings.pool, hostCalls: relayToGateway, onThreadStartFailure: unusable })
let connection: Socket | null = null
let channel: FrameChannel | null = null
/** How this thread orders the runs it starts when it runs them itself (tenant-turns.ts); null with worker threads. */
let inOrder: TenantTurns<Frame> | null = null
let stopping = false
let listening = false
/** Host calls of this runner's scripts, answered by the gateway. */
const hostCalls = new HostCaller((message) => channel?.send(message))

// Ctrl-C, and SIGTERM from a service manager that signals the whole group (systemd's default),
// reach the runners too: the gateway decides when they stop, after draining the runs in flight.
// The IPC channel closing (the gateway closed it, or died) is what stops a runner.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => {})
process.on('disconnect', () => void stop(0))

const server = createServer((socket) => {
  // One gateway per runner: nobody else gets a session, even with the socket's path.
  server.close()
  connection = socket
  const framed: FrameChannel = new FrameChannel(socket, (value) => receive(framed, value as Frame))
  channel = framed
  // Runs on this thread: one tenant's runs of a read start after another's answers left (tenant-turns.ts).
  if (inline) {
    const turns = new TenantTurns<Frame>((frame) => receive(framed, frame, true), () => framed.flush())
    inOrder = turns
    socket.prependListener('data', () => turns.newRead())
  }
  socket.on('close', () => void stop(0))
  socket.on('error', () => socket.destroy())
})
// A gateway that died before the 'disconnect' listener existed (while this module was loading) sent no
// 'disconnect' to hear, and nothing else would end an orphaned runner: look now and every second.
if (!process.connected) void stop(0)
setInterval(() => {
  if (!process.connected) void stop(0)
}, 1000).unref()

// Start every worker thread before saying so: a runner that is "ready" serves at full speed,
// and a standby runner has paid its whole start-up cost before it takes a crashed one's place.
// A thread that died while starting is replaced by piscina, and asked again: one that could not
// start at all is not, and stops this runner (`unusable`) before the second answer.
for (let attempt = 1; attempt <= 2 && !stopping; attempt++) {
  try {
    await pool.stats()
    break
  } catch (error) {
    if (attempt === 2 && !stopping) process.emitWarning(new Error('a runner worker thread failed while starting; serving anyway', { cause: error }))
  }
}
// A runner without worker threads serves once its hold watcher watches (runner-hold.ts).
await hold?.watching
if (!stopping) {
  server.listen(settings.socketPath, () => {
    // The gateway may have stopped while this runner was starting.
    if (!process.connected || stopping) return
    listening = true
    process.send?.({ type: 'listening' } satisfies RunnerProcessNotice)
  })
}

/**
 * A worker thread could not start, so this runner cannot serve that thread's tenants. While
 * starting, the runner exits (the gateway sees a runner that died while starting: it retries with
 * a growing delay, and a gateway that is starting says why it cannot); once serving, it tells the
 * gateway, which starts another in its place and stops this one once its runs in flight are done.
 */
function unusable(error: Error): void {
  process.stderr.write(`isogate runner ${process.pid}: ${error.message}\n`)
  if (listening && process.connected) process.send?.({ type: 'unusable', reason: error.message } satisfies RunnerProcessNotice)
  else void stop(1)
}

/** A frame from the gateway; `ordered`: TenantTurns let it through. */
function receive(channel: FrameChannel, frame: Frame, ordered = false): void {
  if ('hostReply' in frame) hostCalls.reply(frame)
  else if ('fence' in frame) {
    // After the runs the gateway withdrew, which may still wait their tenant's turn.
    if (inOrder !== null && !ordered) inOrder.keepOrder(frame)
    else {
      hold?.fence()
      channel.send({ fenced: true })
    }
  } else if (inOrder !== null && !ordered && 'message' in frame) {
    // A request keeps its place behind runs waiting their tenant's turn (an evict must not pass a run of its tenant).
    if (frame.message.type === 'run') inOrder.offer(frame, frame.message.task.tenantId)
    else inOrder.keepOrder(frame)
  } else serve(channel, frame as RunnerRequest)
}

/** Sends a script's host call to the gateway (the pool's HostRelay calls this) and waits for the answer. */
function relayToGateway(call: RelayedHostCall, cancel: CallCancel): Promise<unknown> {
  if (channel === null || stopping) return Promise.reject(new RunnerError('RUNNER_UNAVAILABLE', 'the runner is not connected to its gateway'))
  return hostCalls.call(call, signalCancellation(cancel.signal))
}

function serve(channel: FrameChannel, request: RunnerRequest): void {
  // Withdrawn by the gateway while a step held this thread: it ran on another runner.
  if (hold !== null && request.message.type === 'run' && !hold.admit(request.id)) return
  // A run's answer sent is what lets the next tenant's runs of its read start (tenant-turns.ts).
  const turns = inOrder
  const group = turns === null ? 0 : turns.began()
  answer(request).then(
    (value) => {
      channel.send({ id: request.id, value })
      turns?.answered(group)
    },
    (error: unknown) => {
      channel.send(error instanceof ProgramMissing ? { id: request.id, missing: error.key } : { id: request.id, error: toErrorData(error) })
      turns?.answered(group)
    },
  )
}

/**
 * Not an async function: one returning a run's promise would settle a step behind it (a thenable
 * job and a `then` more per run); a throw is answered as a rejection all the same.
 */
function answer({ message }: RunnerRequest): Promise<unknown> {
  try {
    switch (message.type) {
      case 'run':
        return pool.runWire(message.task)
      case 'check':
        return pool.check(message.source)
      case 'stats':
        return pool.stats()
      case 'evict':
        return pool.evict(message.tenantId)
    }
  } catch (error) {
    return Promise.reject(error)
  }
  return Promise.reject(new RunnerError('RUNNER_UNAVAILABLE', `a request this runner does not know: ${String((message as { type?: unknown }).type)}`))
}

async function stop(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  // A pool that does not close in time must not keep a runner alive past its gateway.
  setTimeout(() => process.exit(code), 5000).unref()
  server.close()
  connection?.destroy()
  try {
    await pool.close()
  } finally {
    rmSync(settings.socketPath, { force: true })
    process.exit(code)
  }
}
