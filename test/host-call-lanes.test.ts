import t from 'tap'
import { HostAnswerer, type HostReplyMessage, type RelayedHostCall } from '../runner/host-call-channel.js'

/**
 * A handler in front of a shared first-in-first-out resource with two workers, as a database pool
 * is: each call holds a worker for `ms`. What a flood does to a neighbour's call is decided by
 * how deep the flood fills this queue.
 */
function pooled(ms: number): (call: RelayedHostCall) => Promise<unknown> {
  const queue: Array<() => void> = []
  let busy = 0
  const next = (): void => {
    if (busy >= 2) return
    const job = queue.shift()
    if (job === undefined) return
    busy++
    job()
  }
  return (call) => new Promise((resolve) => {
    queue.push(() => setTimeout(() => {
      busy--
      resolve(`${call.tenantId}:${String(call.args[0])}`)
      next()
    }, ms))
    next()
  })
}

function answerer(maxPerTenant?: number): { answerer: HostAnswerer; order: string[]; answers: Map<number, HostReplyMessage['answer']>; settled: Promise<void> } {
  const order: string[] = []
  const answers = new Map<number, HostReplyMessage['answer']>()
  let resolveSettled!: () => void
  const settled = new Promise<void>((resolve) => { resolveSettled = resolve })
  const answerer = new HostAnswerer(pooled(2), (message) => {
    answers.set(message.hostReply, message.answer)
    order.push(message.answer.ok ? String(message.answer.value) : `failed:${message.hostReply}`)
    if (answers.size === 101) resolveSettled()
  }, undefined, maxPerTenant === undefined ? {} : { maxPerTenant })
  return { answerer, order, answers, settled }
}

function flood(answerer: HostAnswerer): void {
  for (let i = 1; i <= 100; i++) answerer.receive({ hostCall: i, call: { tenantId: 'flood', name: 'db.query', args: [i] } })
  answerer.receive({ hostCall: 1000, call: { tenantId: 'victim', name: 'db.query', args: ['one'] } })
}

t.test("one tenant's flood of host calls waits in its own lane: a co-located tenant's call is answered after a few of the flood's, not after all of them", async (t) => {
  const fair = answerer(4)
  flood(fair.answerer)
  t.equal(fair.answerer.waiting('flood'), 96, 'the flood past its 4 waits in its lane')
  t.equal(fair.answerer.waiting('victim'), 0, "the neighbour's call started at once")
  await fair.settled
  const before = fair.order.indexOf('victim:one')
  t.ok(before >= 0 && before <= 4, `the neighbour was answered after ${before} of the flood's calls`)
  t.equal(fair.order.filter((answer) => answer.startsWith('flood:')).length, 100, "every one of the flood's calls was answered")
  t.same(fair.order.filter((answer) => answer.startsWith('flood:')).slice(0, 10), Array.from({ length: 10 }, (_, i) => `flood:${i + 1}`), 'in its lane, first in first out')

  // Without lanes, the same flood fills the shared queue ahead of the neighbour.
  const unfair = answerer()
  flood(unfair.answerer)
  await unfair.settled
  t.equal(unfair.order.indexOf('victim:one'), 100, 'unbounded, the neighbour waits for all 100')
})

t.test('a waiting call whose run ended is answered at once and gives up its turn; the platform\'s own calls are never held', async (t) => {
  const { answerer: lanes, answers } = answerer(1)
  lanes.receive({ hostCall: 1, call: { tenantId: 'a', name: 'db.query', args: [1] } })
  lanes.receive({ hostCall: 2, call: { tenantId: 'a', name: 'db.query', args: [2] } })
  lanes.receive({ hostCall: 3, call: { tenantId: 'a', name: 'run.respond', args: [3] } })
  t.equal(lanes.waiting('a'), 1, 'the second db call waits; run.respond does not')
  lanes.receive({ hostCancel: 2 })
  t.equal(lanes.waiting('a'), 0)
  t.match(answers.get(2), { ok: false, error: { code: 'HOST_CALL_FAILED' } }, 'answered at once')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(answers.get(1), { ok: true, value: 'a:1' })
  t.same(answers.get(3), { ok: true, value: 'a:3' })
})

t.test("a call's cancel reaches its handler whenever the handler reads its signal, before or after the cancel; closing cancels every call", async (t) => {
  const seen: Record<string, { cancel: { readonly signal: AbortSignal }; reasons: string[] }> = {}
  const answerer = new HostAnswerer((call, cancel) => {
    const name = String(call.args[0])
    seen[name] = { cancel, reasons: [] }
    // 'early' listens at once; 'late' reads its signal only after the cancel came.
    if (name === 'early') cancel.signal.addEventListener('abort', () => seen.early?.reasons.push((cancel.signal.reason as Error).name))
    return new Promise(() => {})
  }, () => undefined)
  answerer.receive({ hostCall: 1, call: { tenantId: 'a', name: 'db.query', args: ['early'] } })
  answerer.receive({ hostCall: 2, call: { tenantId: 'a', name: 'db.query', args: ['late'] } })
  answerer.receive({ hostCall: 3, call: { tenantId: 'a', name: 'db.query', args: ['open'] } })
  answerer.receive({ hostCancel: 1 })
  answerer.receive({ hostCancel: 2 })
  answerer.receive({ hostCancel: 2 })
  t.same(seen.early?.reasons, ['AbortError'], 'a listener hears the cancel once')
  t.equal(seen.late?.cancel.signal.aborted, true, 'a signal read after the cancel is aborted')
  t.equal((seen.late?.cancel.signal.reason as Error).name, 'AbortError')
  t.equal(seen.open?.cancel.signal.aborted, false)
  answerer.close()
  t.equal(seen.open?.cancel.signal.aborted, true, 'closing the answerer cancels the calls in flight')
})

t.test('maxPerTenant is checked', async (t) => {
  t.throws(() => new HostAnswerer(undefined, () => undefined, undefined, { maxPerTenant: 0 }), RangeError)
  t.throws(() => new HostAnswerer(undefined, () => undefined, undefined, { maxPerTenant: 1.5 }), RangeError)
})
