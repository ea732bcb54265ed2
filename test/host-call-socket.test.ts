import t from 'tap'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { HostCallListener } from '../runner/supervisor/host-call-listener.js'
import { HostCallSocket } from '../runner/thread/host-call-socket.js'
import { signalCancellation, type RelayedHostCall } from '../runner/host-call-channel.js'
import { HostBridge } from '../runner/thread/host-bridge.js'
import { LimitEnforcer } from '../runner/thread/limit-enforcer.js'
import { LIMITS } from './helpers/programs.js'
import { tempFolder } from './helpers/temp.js'

const folder = tempFolder(t, 'isogate-host-socket-')
let sockets = 0

/** A listener whose handler holds every call until released, and records what it saw. */
function listener(maxPerTenant = 64, admitted = new Set(['a', 'b'])) {
  const started: Array<{ call: RelayedHostCall; signal: AbortSignal; release: (value: unknown) => void }> = []
  const server = new HostCallListener({
    path: path.join(folder, `${sockets++}.sock.host`),
    handler: (call, cancel) => new Promise((resolve) => started.push({ call, signal: cancel.signal, release: resolve })),
    admit: (call) => (admitted.has(call.tenantId) ? null : Object.assign(new Error('host APIs can only be called while a run is in progress'), { code: 'HOST_CALL_FAILED' })),
    lanes: { maxPerTenant },
  })
  return { server, started }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await delay(5)
  if (!condition()) throw new Error('timed out waiting')
}

const signal = (): ReturnType<typeof signalCancellation> => signalCancellation(new AbortController().signal)

t.test("calls from two threads' sockets share their tenant's lane, and each answer reaches the socket and call it belongs to", async (t) => {
  const { server, started } = listener(1)
  t.teardown(() => server.close())
  const one = new HostCallSocket(server.path)
  const two = new HostCallSocket(server.path)
  t.teardown(() => {
    one.close()
    two.close()
  })
  const first = one.call({ tenantId: 'a', name: 'cache.get', args: ['x'] }, signal())
  const second = two.call({ tenantId: 'a', name: 'cache.get', args: ['y'] }, signal())
  const other = two.call({ tenantId: 'b', name: 'cache.get', args: ['z'] }, signal())
  await until(() => started.length === 2)
  await delay(20)
  t.same(started.map((s) => `${s.call.tenantId}:${String(s.call.args[0])}`).sort(), ['a:x', 'b:z'], "tenant a's second call waits in its lane across both sockets; b's starts at once")
  started.find((s) => s.call.tenantId === 'b')?.release('for b')
  t.equal(await other, 'for b')
  started.find((s) => s.call.args[0] === 'x')?.release('for x')
  t.equal(await first, 'for x', 'the answer went back on the socket its call came on')
  await until(() => started.length === 3)
  t.equal(started[2]?.call.args[0], 'y', "a's waiting call started once its first finished")
  started[2]?.release('for y')
  t.equal(await second, 'for y')
  t.equal(server.inFlight, 0)
})

t.test('a call for a tenant without a run on the runner is refused before the handler sees it, as an error the script can read', async (t) => {
  const { server, started } = listener(64, new Set())
  t.teardown(() => server.close())
  const socket = new HostCallSocket(server.path)
  t.teardown(() => socket.close())
  await t.rejects(socket.call({ tenantId: 'stranger', name: 'cache.get', args: ['k'] }, signal()), { code: 'HOST_CALL_FAILED', message: /while a run is in progress/ })
  t.equal(started.length, 0)
})

t.test("a thread's socket that closes cancels its calls in flight at the gateway; the next call connects again", async (t) => {
  const { server, started } = listener()
  t.teardown(() => server.close())
  const socket = new HostCallSocket(server.path)
  t.teardown(() => socket.close())
  const lost = socket.call({ tenantId: 'a', name: 'db.query', args: [1] }, signal())
  await until(() => started.length === 1)
  const held = started[0]
  // The thread's end goes away as it would when the thread dies.
  socket.close()
  await t.rejects(lost, { code: 'HOST_CALL_FAILED' }, 'the waiting call fails')
  await until(() => held?.signal.aborted === true)
  t.ok(held?.signal.aborted, "the gateway aborted the handler of the closed socket's call")
  // A handler that answers anyway (it ignored the abort): the answer has nowhere to go and is dropped.
  held?.release('too late')
  await until(() => server.inFlight === 0)

  const again = new HostCallSocket(server.path)
  t.teardown(() => again.close())
  const answered = again.call({ tenantId: 'a', name: 'cache.get', args: ['k'] }, signal())
  await until(() => started.length === 2)
  started[1]?.release('v')
  t.equal(await answered, 'v')
})

t.test("a run that ends cancels its call over the socket; a closed listener fails the threads' waiting calls", async (t) => {
  const { server, started } = listener()
  const socket = new HostCallSocket(server.path)
  t.teardown(() => socket.close())
  // The run's own cancellation (HostCall.onCancel), as the thread's relayed APIs pass it.
  const run = new HostBridge().begin('a', new LimitEnforcer(LIMITS))
  const cancelled = socket.call({ tenantId: 'a', name: 'db.query', args: [1] }, run)
  cancelled.catch(() => undefined)
  await until(() => started.length === 1)
  run.abort(new Error('the run ended'))
  run.result.catch(() => undefined)
  await until(() => started[0]?.signal.aborted === true)
  t.pass('the cancel reached the handler')
  const waiting = socket.call({ tenantId: 'a', name: 'db.query', args: [2] }, signal())
  await until(() => started.length === 2)
  server.close()
  await t.rejects(waiting, { code: 'HOST_CALL_FAILED' })
  t.ok(started[1]?.signal.aborted, 'closing aborted the call in flight')
})
