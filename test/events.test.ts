import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { Isogate } from '../src/app.js'
import { databaseTargets } from './helpers/databases.js'
import { api, startTestIsogate } from './helpers/isogate.js'

const RECORD = `export default { event(event) { return { type: event.type, attempt: event.attempt, payload: event.payload, depth: event.depth } } }`
const FAIL = `export default { event(event) { throw new Error('boom on attempt ' + event.attempt) } }`

/** Polls until `check` answers a truthy value (generous: two shared cores). */
async function until<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await sleep(100)
  }
}

function runsOf(isogate: Isogate, scriptId: string) {
  return isogate.db.system((tx) => tx<Array<{ id: string; status: string; input: any; output: any; error: any; created_at: Date; event_depth: number | null }>>`
    SELECT id, status, input, output, error, created_at, event_depth FROM executions WHERE script_id = ${scriptId} ORDER BY created_at, id`)
}

async function eventScript(isogate: Isogate, tenant: string, name: string, types: string[], source = RECORD): Promise<string> {
  const created = await api(isogate, 'POST', '/api/v1/scripts', { tenant, body: { name, type: 'event', source, events: { types }, limits: { timeoutMs: 2000 } } })
  if (created.status !== 201) throw new Error(JSON.stringify(created.body))
  return created.body.id
}

for (const target of databaseTargets()) {
  t.test(`events on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl, eventRetries: 2, eventRetryBaseMs: 300, triggerPollMs: 500 })
    t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'shop', name: 'Shop' } })).status, 201)
    t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'other', name: 'Other' } })).status, 201)

    t.test('an event fans out to every matching active script of the tenant, exact and wildcard', async (t) => {
      const exact = await eventScript(isogate, 'shop', 'exact', ['order.created'])
      const wildcard = await eventScript(isogate, 'shop', 'wildcard', ['order.*'])
      const unrelated = await eventScript(isogate, 'shop', 'unrelated', ['invoice.paid'])
      const elsewhere = await eventScript(isogate, 'other', 'elsewhere', ['order.*'])
      const published = await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type: 'order.created', payload: { id: 7 } } })
      t.equal(published.status, 202)
      t.match(published.body, { id: String, type: 'order.created', deliveries: 2, duplicate: false, dropped: null })
      const [a, b] = await until(async () => {
        const runs = [await runsOf(isogate, exact), await runsOf(isogate, wildcard)]
        return runs.every((r) => r.length === 1) ? runs : null
      })
      t.match(a![0], { status: 'completed', output: { type: 'order.created', attempt: 1, payload: { id: 7 }, depth: 0 } })
      t.match(b![0], { status: 'completed', output: { type: 'order.created', attempt: 1 } })
      const deeper = await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type: 'order.item.added' } })
      t.equal(deeper.body.deliveries, 1, 'order.* matches deeper types too; exact does not')
      await until(async () => (await runsOf(isogate, wildcard)).length === 2)
      await sleep(500)
      t.equal((await runsOf(isogate, unrelated)).length, 0)
      t.equal((await runsOf(isogate, elsewhere)).length, 0, 'another tenant sees nothing')
      for (const id of [exact, wildcard, unrelated, elsewhere]) {
        await api(isogate, 'PATCH', `/api/v1/scripts/${id}`, { tenant: id === elsewhere ? 'other' : 'shop', body: { status: 'paused' } })
      }
    })

    t.test('the same idempotency key is accepted once', async (t) => {
      const id = await eventScript(isogate, 'shop', 'once', ['payment.received'])
      const first = await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type: 'payment.received', idempotencyKey: 'pay-1' } })
      const second = await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type: 'payment.received', idempotencyKey: 'pay-1' } })
      t.equal(first.status, 202)
      t.equal(second.status, 202)
      t.equal(second.body.id, first.body.id)
      t.equal(second.body.duplicate, true)
      const other = await api(isogate, 'POST', '/api/v1/events', { tenant: 'other', body: { type: 'payment.received', idempotencyKey: 'pay-1' } })
      t.equal(other.body.duplicate, false, 'keys are per tenant')
      await until(async () => (await runsOf(isogate, id)).length === 1)
      await sleep(800)
      t.equal((await runsOf(isogate, id)).length, 1, 'one delivery')
      await api(isogate, 'PATCH', `/api/v1/scripts/${id}`, { tenant: 'shop', body: { status: 'paused' } })
    })

    t.test('a failing delivery is retried with backoff, then dead-lettered with every attempt, then replayed', async (t) => {
      const id = await eventScript(isogate, 'shop', 'failing', ['refund.requested'], FAIL)
      const published = await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type: 'refund.requested', payload: { amount: 3 } } })
      t.equal(published.status, 202)
      const letters = await until(async () => {
        const list = await api(isogate, 'GET', '/api/v1/dead-letters', { tenant: 'shop' })
        return list.body.items.length === 1 ? list.body.items : null
      })
      const runs = await runsOf(isogate, id)
      t.equal(runs.length, 3, 'first attempt and two retries')
      t.same(runs.map((run) => run.input.attempt), [1, 2, 3])
      const gaps = runs.slice(1).map((run, i) => run.created_at.getTime() - runs[i]!.created_at.getTime())
      t.ok(gaps[0]! >= 300, `first retry after at least 300 ms (${gaps[0]})`)
      t.ok(gaps[1]! >= 600, `second retry after at least 600 ms (${gaps[1]})`)
      const letter = letters[0]
      t.match(letter, { scriptId: id, eventId: published.body.id, event: { type: 'refund.requested', payload: { amount: 3 } }, replayedAt: null })
      t.equal(letter.attempts.length, 3)
      t.match(letter.attempts, [
        { attempt: 1, error: { message: /boom on attempt 1/ }, startedAt: String, finishedAt: String },
        { attempt: 2, error: { message: /boom on attempt 2/ } },
        { attempt: 3, error: { message: /boom on attempt 3/ } },
      ])
      const fixed = await api(isogate, 'PATCH', `/api/v1/scripts/${id}`, { tenant: 'shop', body: { source: RECORD } })
      t.equal(fixed.status, 200)
      const replay = await api(isogate, 'POST', `/api/v1/dead-letters/${letter.id}/replay`, { tenant: 'shop' })
      t.equal(replay.status, 202)
      t.match(replay.body, { deadLetterId: letter.id, deliveryId: String })
      const replayed = await until(async () => (await runsOf(isogate, id)).find((run) => run.status === 'completed'))
      t.match(replayed.output, { type: 'refund.requested', attempt: 1, payload: { amount: 3 } })
      const again = await api(isogate, 'POST', `/api/v1/dead-letters/${letter.id}/replay`, { tenant: 'shop' })
      t.equal(again.status, 409)
      t.equal(again.body.error.code, 'DEAD_LETTER_REPLAYED')
      const missing = await api(isogate, 'POST', '/api/v1/dead-letters/00000000-0000-0000-0000-000000000000/replay', { tenant: 'shop' })
      t.equal(missing.body.error.code, 'DEAD_LETTER_NOT_FOUND')
      await api(isogate, 'PATCH', `/api/v1/scripts/${id}`, { tenant: 'shop', body: { status: 'paused' } })
    })

    t.test('domain events reach the bus: script.created, execution.failed; runs of execution events make none about themselves', async (t) => {
      const watcher = await eventScript(isogate, 'other', 'watcher', ['script.*', 'execution.*'])
      await eventScript(isogate, 'other', 'breaks', ['thing.happened'], FAIL)
      await until(async () => (await runsOf(isogate, watcher)).some((run) => run.input.type === 'script.created' && run.input.payload.name === 'breaks'))
      await api(isogate, 'POST', '/api/v1/events', { tenant: 'other', body: { type: 'thing.happened' } })
      const failed = await until(async () => (await runsOf(isogate, watcher)).find((run) => run.input.type === 'execution.failed'))
      t.match(failed.input.payload, { trigger: 'event', status: 'failed', error: { message: /boom/ } })
      t.equal(failed.input.depth, 1, 'one level below the event that caused the failed run')
      await sleep(1_500)
      const runs = await runsOf(isogate, watcher)
      const fromExecutionEvents = new Set(runs.filter((run) => run.input.type?.startsWith('execution.')).map((run) => run.id))
      t.ok(fromExecutionEvents.size >= 1)
      const about = runs.filter((run) => fromExecutionEvents.has(run.input.payload?.executionId))
      t.same(about, [], 'no execution event about a run that an execution event triggered')
    })

    t.test('the causal depth limit stops a loop and records what was dropped', async (t) => {
      const rows = await isogate.db.system(async (tx) => {
        const [tenant] = await tx<Array<{ id: string }>>`SELECT id FROM tenants WHERE slug = 'other'`
        const ids: string[] = []
        for (const depth of [8, 9]) {
          const [row] = await tx<Array<{ id: string }>>`SELECT isogate_publish_event(${tenant!.id}, 'loop.step', 'null'::jsonb, NULL, ${depth}, 'script', NULL) AS id`
          ids.push(row!.id)
        }
        return tx<Array<{ depth: number; deliveries: number; dropped_reason: string | null }>>`SELECT depth, deliveries, dropped_reason FROM events WHERE id = ANY(${ids}) ORDER BY depth`
      })
      t.match(rows, [{ depth: 8, dropped_reason: null }, { depth: 9, deliveries: 0, dropped_reason: /depth limit 8/ }])
    })

    t.test('isogate event families are reserved; handlers are told who published each event', async (t) => {
      for (const type of ['db.orders.created', 'script.updated', 'execution.failed', 'isogate.anything', 'DB.upper']) {
        const refused = await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type } })
        t.equal(refused.status, 400, `${type} is refused`)
        t.equal(refused.body.error.code, 'EVENT_TYPE_RESERVED')
      }
      const SOURCE = `export default { event(event) { return { type: event.type, source: event.source, sourceScriptId: event.sourceScriptId } } }`
      const listener = await eventScript(isogate, 'shop', 'provenance', ['parcel.*', 'script.created'], SOURCE)
      const publisher = await api(isogate, 'POST', '/api/v1/scripts', {
        tenant: 'shop',
        body: {
          name: 'publisher',
          type: 'oneoff',
          source: `export default { async run(input, env, ctx) {
            let forged
            try { await ctx.events.publish('db.orders.created', { fake: true }); forged = 'published' } catch (error) { forged = error.code }
            await ctx.events.publish('parcel.shipped', {})
            return forged
          } }`,
        },
      })
      const ran = await api(isogate, 'POST', `/api/v1/scripts/${publisher.body.id}/run`, { tenant: 'shop', body: {} })
      t.equal(ran.body.output, 'EVENT_TYPE_RESERVED', 'ctx.events.publish of a reserved type throws EVENT_TYPE_RESERVED')
      await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type: 'parcel.lost' } })
      const outputs = await until(async () => {
        const runs = (await runsOf(isogate, listener)).map((run) => run.output)
        return ['parcel.shipped', 'parcel.lost', 'script.created'].every((type) => runs.some((output) => output?.type === type)) ? runs : null
      })
      t.match(outputs.find((output) => output.type === 'parcel.shipped'), { source: 'script', sourceScriptId: publisher.body.id })
      t.match(outputs.find((output) => output.type === 'parcel.lost'), { source: 'api', sourceScriptId: null })
      t.match(outputs.find((output) => output.type === 'script.created'), { source: 'system', sourceScriptId: null })
      await api(isogate, 'PATCH', `/api/v1/scripts/${listener}`, { tenant: 'shop', body: { status: 'paused' } })
    })

    t.test('bad events are refused naming the field', async (t) => {
      const bad = await api(isogate, 'POST', '/api/v1/events', { tenant: 'shop', body: { type: 'no spaces allowed' } })
      t.equal(bad.status, 400)
      t.match(bad.body.error, { code: 'VALIDATION_FAILED', message: /^type:/ })
    })
  })
}
