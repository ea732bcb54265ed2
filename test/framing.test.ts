import { execFile } from 'node:child_process'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { FrameChannel, type RunnerResponse } from '../runner/framing.js'
import { decodeResult, decodeTask, encodeResult, encodeTask, programKey, runTask, type NamedTask, type RunLimits, type WireResult, type WireTask } from '../runner/protocol.js'
import { nodeArgs, ROOT } from './helpers/paths.js'
import { tempFolder } from './helpers/temp.js'

const DEFAULTS: RunLimits = Object.freeze({ timeoutMs: 1000, cpuMs: 50, memoryMb: 128, apiCalls: 10, outputBytes: 1024 })

/** A connected pair of real Unix domain sockets. */
async function socketPair(t: Test): Promise<{ client: Socket; server: Socket }> {
  const dir = tempFolder(t, 'isogate-framing-')
  const file = path.join(dir, 's.sock')
  const listener: Server = createServer()
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve))
  await new Promise<void>((resolve) => listener.listen(file, resolve))
  const client = createConnection(file)
  const server = await accepted
  t.teardown(() => {
    client.destroy()
    server.destroy()
    listener.close()
  })
  return { client, server }
}

function collect(socket: Socket, count: number): { frames: unknown[]; done: Promise<unknown[]> } {
  const frames: unknown[] = []
  let resolveDone: (value: unknown[]) => void = () => {}
  const done = new Promise<unknown[]>((resolve) => (resolveDone = resolve))
  new FrameChannel(socket, (value) => {
    frames.push(value)
    if (frames.length === count) resolveDone(frames)
  })
  return { frames, done }
}

t.test('frames keep bytes as bytes and arrive whole and in order', async (t) => {
  const { client, server } = await socketPair(t)
  const received = collect(server, 3)
  const sender = new FrameChannel(client, () => {})
  const body = new Uint8Array([0, 1, 2, 255])
  const buffer = new Uint8Array([104, 105]).buffer
  sender.send({ id: 1, value: { body } })
  sender.send({ id: 2, value: { buffer, text: 'héllo' } })
  sender.send({ id: 3, error: { code: 'SCRIPT_ERROR', message: 'x' } })
  const [first, second, third] = (await received.done) as RunnerResponse[]
  t.ok((first?.value as { body: unknown }).body instanceof Uint8Array)
  t.same([...(first?.value as { body: Uint8Array }).body], [0, 1, 2, 255])
  const value = second?.value as { buffer: ArrayBuffer; text: string }
  t.ok(value.buffer instanceof ArrayBuffer)
  t.equal(Buffer.from(value.buffer).toString(), 'hi')
  t.equal(value.text, 'héllo')
  t.same(third, { id: 3, error: { code: 'SCRIPT_ERROR', message: 'x' } })
})

t.test('frames split across reads, one byte at a time, are reassembled', async (t) => {
  const { client, server } = await socketPair(t)
  const received = collect(server, 2)
  const big = 'x'.repeat(200_000)
  // Build the bytes with a channel on a throwaway socket pair, then dribble them.
  const pair = await socketPair(t)
  const chunks: Buffer[] = []
  pair.server.on('data', (chunk: Buffer) => chunks.push(chunk))
  const encoder = new FrameChannel(pair.client, () => {})
  encoder.send({ id: 7, value: 'small' })
  encoder.send({ id: 8, value: big })
  const expected = 4 + 4 + 200_000
  for (let i = 0; i < 100 && Buffer.concat(chunks).length < expected; i++) await new Promise((r) => setTimeout(r, 10))
  const bytes = Buffer.concat(chunks)
  for (let i = 0; i < 64; i++) client.write(bytes.subarray(i, i + 1))
  client.write(bytes.subarray(64))
  const [a, b] = (await received.done) as RunnerResponse[]
  t.same(a, { id: 7, value: 'small' })
  t.equal(b?.id, 8)
  t.equal(b?.value, big)
})

t.test('a connected channel reads through one reused buffer: what it hands on is its own, past the buffer and across reads', async (t) => {
  const dir = tempFolder(t, 'isogate-framing-')
  const file = path.join(dir, 's.sock')
  const listener: Server = createServer()
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve))
  await new Promise<void>((resolve) => listener.listen(file, resolve))
  const frames: RunnerResponse[] = []
  const count = 40
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  const receiver = FrameChannel.connect(file, (value) => {
    frames.push(value as RunnerResponse)
    if (frames.length === count) resolveDone()
  })
  const server = await accepted
  t.teardown(() => {
    receiver.socket.destroy()
    server.destroy()
    listener.close()
  })
  t.equal(receiver.socket.listenerCount('data'), 0, 'the socket is not read as a stream')
  const sender = new FrameChannel(server, () => {})
  // Bodies and texts of every size around the 64 KiB read buffer, over several turns: each read
  // reuses the buffer, so anything handed on as a view of it would be overwritten by the next.
  const sizes = [10, 70_000, 3, 200_000, 65_536, 1]
  for (let id = 0; id < count; id++) {
    const size = sizes[id % sizes.length] as number
    sender.send({ id, value: { body: new Uint8Array(size).fill(id + 1), text: String.fromCharCode(97 + (id % 26)).repeat(size) } })
    if (id % 7 === 6) await new Promise((resolve) => setImmediate(resolve))
  }
  await done
  t.same(frames.map((frame) => frame.id), Array.from({ length: count }, (_, id) => id), 'every frame, in order')
  for (const frame of frames) {
    const { body, text } = frame.value as { body: Uint8Array; text: string }
    const size = sizes[frame.id % sizes.length] as number
    t.ok(body.length === size && body.every((byte) => byte === frame.id + 1), `frame ${frame.id}: its body is whole and its own`)
    t.ok(text.length === size && text === String.fromCharCode(97 + (frame.id % 26)).repeat(size), `frame ${frame.id}: its text too`)
  }
})

t.test('a lone frame is written at once; the frames that follow in the same turn leave together in one write', async (t) => {
  const { client, server } = await socketPair(t)
  const received = collect(server, 100)
  let writes = 0
  const write = client.write.bind(client) as (chunk: Buffer) => boolean
  client.write = ((chunk: Buffer) => {
    writes++
    return write(chunk)
  }) as typeof client.write
  const sender = new FrameChannel(client, () => {})
  sender.send({ id: 0, value: 0 })
  t.equal(writes, 1, 'the first frame after an idle turn did not wait for the turn to end')
  for (let id = 1; id < 100; id++) sender.send({ id, value: id })
  t.equal(writes, 1, 'the rest wait for the end of the turn')
  const frames = (await received.done) as RunnerResponse[]
  t.equal(writes, 2, 'and leave in one write')
  t.same(frames.map((frame) => frame.value), Array.from({ length: 100 }, (_, i) => i))
})

t.test('a frame that does not serialize is replaced by its fallback, and the frames around it still arrive', async (t) => {
  const { client, server } = await socketPair(t)
  const received = collect(server, 4)
  const sender = new FrameChannel(client, () => {})
  sender.send({ id: 0, value: 'warm' })
  sender.send({ id: 1, value: 'before' })
  sender.send({ hostReply: 9, answer: { ok: true, value: () => 'a function' } }, { hostReply: 9, answer: { ok: false, error: { code: 'HOST_CALL_FAILED', message: 'cannot be copied' } } })
  sender.send({ id: 2, value: 'after' })
  const frames = (await received.done) as unknown[]
  t.same(frames, [{ id: 0, value: 'warm' }, { id: 1, value: 'before' }, { hostReply: 9, answer: { ok: false, error: { code: 'HOST_CALL_FAILED', message: 'cannot be copied' } } }, { id: 2, value: 'after' }])
})

t.test('a frame over the size limit is refused as a protocol error', async (t) => {
  const { client, server } = await socketPair(t)
  const failed = new Promise<Error>((resolve) => new FrameChannel(server, () => t.fail('no frame'), resolve))
  const header = Buffer.alloc(4)
  header.writeUInt32BE(0xffff_fff0, 0)
  client.write(header)
  t.match((await failed).message, /over the .* byte limit/)
})

t.test('a run crosses as JSON with its binary body beside it as bytes: tasks and results come back whole', async (t) => {
  const program = { tenantId: 'acme', scriptId: 's1', version: 3, sourceHash: 'abc', source: 'export default {}' }
  const limits = { timeoutMs: 1000, cpuMs: 50, memoryMb: 128, apiCalls: 10, outputBytes: 1024 }
  const bytes = new Uint8Array([0, 255, 10, 13])
  const binary = { kind: 'fetch' as const, program, input: { method: 'POST', url: 'http://x/', headers: [['a', 'b'] as [string, string]], body: bytes, params: { id: '7' } }, env: { K: 'v' }, limits, trace: { executionId: 'e1', eventDepth: null }, isolateMemoryMb: 64 }
  const wire = encodeTask(binary)
  t.equal(wire.key, programKey(program))
  t.equal(wire.tenantId, 'acme')
  t.equal(wire.body, bytes, 'the body goes beside the JSON, not re-encoded in it')
  t.notMatch(wire.json, /export default/, 'the source is never in the JSON: it travels only when the runner lacks it')
  t.same(decodeTask(wire), binary, 'the task comes back whole, source and body included')
  t.same(decodeTask({ ...wire, source: undefined })?.program, { tenantId: 'acme', scriptId: 's1', version: 3, sourceHash: 'abc' })
  const text = { ...binary, input: { ...binary.input, body: 'héllo \ud800' } }
  t.same(decodeTask(encodeTask(text)), text, 'a text body (lone surrogate and all) stays in the JSON')
  const scheduled = { kind: 'scheduled' as const, program, input: { cron: '* * * * *', when: 1 }, env: {}, limits }
  t.same(decodeTask(encodeTask(scheduled)), scheduled)
  // Headers go as lines, or as JSON when a line break or a leading '[' would make the lines ambiguous.
  const withHeaders = (headers: Array<[string, string]>): typeof binary => ({ ...binary, input: { ...binary.input, headers } })
  for (const headers of [[], [['host', 'x'], ['accept', '*/*'], ['empty', '']], [['x-a', 'one\ntwo'], ['b', 'c']], [['[odd', 'v'], ['b', '[']], [['a', 'b'], ['[c', 'd\r']]] as Array<Array<[string, string]>>) {
    t.same(decodeTask(encodeTask(withHeaders(headers))), withHeaders(headers), `headers ${JSON.stringify(headers)} come back as they went`)
  }
  t.match(encodeTask(withHeaders([['host', 'x'], ['accept', '*/*']])).args, /\nhost\nx\naccept\n\*\/\*$/, 'plain headers: a name and a value a line')
  t.match(encodeTask(withHeaders([['x-a', 'one\ntwo']])).args, /\n\[\["x-a","one\\ntwo"\]\]$/, 'a line break in a value: JSON')

  const buffer = new Uint8Array([1, 2, 3]).buffer
  const metrics = { wallMs: 1.5, cpuMs: 0.25, heapBytes: 1000, apiCalls: 0, outputBytes: 0, start: 'hot' as const }
  const answered = { ok: true, response: { status: 200, headers: [['content-type', 'application/octet-stream'] as [string, string]], body: buffer }, logs: [{ level: 'info' as const, message: 'hi', time: 5 }], metrics }
  const back = decodeResult(encodeResult(answered))
  t.equal(back.response?.body, buffer, 'a binary response body stays bytes')
  t.same(back, answered)
  const failed = { ok: false, error: { code: 'SCRIPT_ERROR', message: 'boom', line: 2, column: 9 }, logs: [], metrics }
  t.same(decodeResult(encodeResult(failed)), failed)

  // Both cross a real framed socket as they would between the gateway and a runner.
  const { client, server } = await socketPair(t)
  const received = collect(server, 3)
  const sender = new FrameChannel(client, () => {})
  sender.send({ id: 1, message: { type: 'run', task: wire } })
  sender.send({ id: 1, value: encodeResult(answered) })
  sender.send({ id: 2, message: { type: 'run', task: { ...wire, json: undefined } } })
  const [request, response, headless] = (await received.done) as [{ message: { task: WireTask } }, { value: WireResult }, { message: { task: WireTask } }]
  t.same(decodeTask(request.message.task), binary)
  t.equal(headless.message.task.json, undefined, 'a run whose head the runner holds goes without its text')
  t.equal(headless.message.task.head, wire.head)
  t.same(decodeTask(headless.message.task), binary, 'and decodes as the first did')
  t.same(new Uint8Array(decodeResult(response.value).response?.body as ArrayBuffer), new Uint8Array([1, 2, 3]))
})

t.test("a route's runs share one head on the wire, each with its own trace; other limits or kinds get a head of their own", async (t) => {
  const program = Object.freeze({ tenantId: 'acme', scriptId: 's1', version: 3, sourceHash: 'abc', source: 'export default {}' })
  const limits = runTask({ kind: 'fetch', program, input: null, env: {}, defaults: DEFAULTS, limits: { cpuMs: 20 }, executionId: 'x' }).limits
  const task = (executionId: string, overrides: Partial<NamedTask> = {}): NamedTask => ({ kind: 'fetch', program, input: { n: executionId }, env: {}, limits, trace: { executionId, eventDepth: null }, isolateMemoryMb: 64, ...overrides })
  const [a, b] = [encodeTask(task('e1')), encodeTask(task('e2'))]
  t.equal(a.json, b.json, 'one head for both runs')
  t.same([a.trace, b.trace], [{ executionId: 'e1', eventDepth: null }, { executionId: 'e2', eventDepth: null }], 'each run its own trace')
  t.notMatch(a.json, /e1/, 'no run of its own in the head')
  t.not(encodeTask(task('e3', { limits: { ...limits, cpuMs: 30 } })).json, a.json, 'other limits: another head')
  t.match(JSON.parse(encodeTask(task('e4', { limits: { ...limits, cpuMs: 30 } })).json as string), { limits: { cpuMs: 30 } })
  t.match(JSON.parse(encodeTask(task('e5', { kind: 'run' })).json as string), { kind: 'run' }, 'another kind: another head')
  t.match(JSON.parse(encodeTask(task('e6', { isolateMemoryMb: 32 })).json as string), { isolateMemoryMb: 32 })

  // runTask: one frozen merge per script's limits object and defaults.
  const overrides = { cpuMs: 20 }
  const first = runTask({ kind: 'fetch', program, input: null, env: {}, defaults: DEFAULTS, limits: overrides, executionId: 'x' })
  const second = runTask({ kind: 'fetch', program, input: null, env: {}, defaults: DEFAULTS, limits: overrides, executionId: 'y' })
  t.equal(first.limits, second.limits)
  t.ok(Object.isFrozen(first.limits))
  t.same(first.limits, { ...DEFAULTS, cpuMs: 20 })
  t.same(runTask({ kind: 'fetch', program, input: null, env: {}, defaults: { ...DEFAULTS, apiCalls: 3 }, limits: overrides, executionId: 'z' }).limits, { ...DEFAULTS, apiCalls: 3, cpuMs: 20 }, 'other defaults: merged again')

  // A thread decodes each head once: runs share its frozen program and limits, never each other's trace or source.
  const named = (wire: WireTask): WireTask => ({ ...wire, source: undefined })
  const [x, y] = [decodeTask(named(a)), decodeTask(named(b))] as [NamedTask, NamedTask]
  t.equal(x.program, y.program)
  t.ok(Object.isFrozen(x.program) && Object.isFrozen(x.limits))
  t.same([x.trace, y.trace, x.input], [a.trace, b.trace, { n: 'e1' }])
  t.equal(decodeTask(a)?.program.source, 'export default {}')
  t.equal(decodeTask(named(b))?.program.source, undefined, 'the source went with its own task only')
  t.equal(decodeTask({ ...a, trace: null })?.trace, undefined)

  // A head is numbered: its runs name it by number once its text was sent, and a thread that does not hold it says so.
  t.equal(a.head, b.head, 'one number for both runs')
  const other = encodeTask(task('e7', { limits: { ...limits, cpuMs: 40 } }))
  t.not(other.head, a.head, 'another head, another number')
  t.equal(decodeTask({ ...named(b), json: undefined })?.program, x.program, 'a held head is found by its number alone')
  t.equal(decodeTask({ ...other, json: undefined }), null, 'a head never sent: null, answered as a missing program')
  t.match(decodeTask(other)?.limits, { cpuMs: 40 }, 'sent with its text, it is held from then on')
  t.match(decodeTask({ ...other, json: undefined })?.limits, { cpuMs: 40 })
})

t.test('runs and their answers cross as JSON, their bodies beside it as bytes; a batch keeps other frames in its V8 part, in order', async (t) => {
  const { client, server } = await socketPair(t)
  const raw: Buffer[] = []
  server.on('data', (chunk: Buffer) => raw.push(chunk))
  const received = collect(server, 9)
  const sender = new FrameChannel(client, () => {})
  const u8 = new Uint8Array([0, 1, 255])
  const buf = Buffer.from('buffer body')
  const ab = new Uint8Array([7, 8]).buffer
  const task = { tenantId: 'acme', key: 'acme/s1/1/abc', head: 3, json: '{"kind":"fetch"}' as string | undefined, trace: { executionId: 'e1', eventDepth: null }, near: 7, args: '{"env":{"greeting":"héllo ✓"}}', body: u8 }
  const when = new Date(5)
  // The first frame after an idle turn leaves alone; the eight after it leave in one batch.
  sender.send({ id: 0, missing: 'acme/s1/1/abc' })
  sender.send({ id: 1, message: { type: 'run', task } })
  sender.send({ hostCall: 4, call: { tenantId: 'acme', name: 'cache.set', args: ['k', new Map([['a', 1]]), when] } })
  sender.send({ id: 2, value: { json: '{"ok":true}', body: buf } })
  sender.send({ id: 3, value: { json: '{"ok":true}', body: ab } })
  sender.send({ id: 4, value: { json: '{"ok":true}', body: null } })
  sender.send({ id: 5, error: { code: 'RUNNER_CRASHED', message: 'lost', retryable: true } })
  sender.send({ hostCall: 5, call: { tenantId: 'acme', name: 'cache.get', args: ['k', { deep: [1, 'two', null, true] }] } })
  // eslint-disable-next-line no-sparse-arrays
  sender.send({ hostReply: 6, answer: { ok: true, value: { gone: undefined, negative: -0, holes: [1, , 3], nan: Number.NaN } } })
  const frames = (await received.done) as Array<Record<string, unknown>>
  t.same(frames[0], { id: 0, missing: 'acme/s1/1/abc' })
  const run = frames[1] as { id: number; message: { type: string; task: typeof task } }
  t.same(run, { id: 1, message: { type: 'run', task: { ...task, body: u8 } } })
  t.ok(run.message.task.body instanceof Uint8Array && !Buffer.isBuffer(run.message.task.body), 'a Uint8Array body comes back a Uint8Array')
  const call = frames[2] as { hostCall: number; call: { args: [string, Map<string, number>, Date] } }
  t.ok(call.call.args[1] instanceof Map && call.call.args[1].get('a') === 1, 'a host call keeps what JSON cannot carry')
  t.ok(call.call.args[2] instanceof Date && call.call.args[2].getTime() === 5)
  t.ok(Buffer.isBuffer((frames[3] as { value: { body: unknown } }).value.body), 'a Buffer body comes back a Buffer')
  t.equal(Buffer.from((frames[3] as { value: { body: Buffer } }).value.body).toString(), 'buffer body')
  const abBack = (frames[4] as { value: { body: unknown } }).value.body
  t.ok(abBack instanceof ArrayBuffer, 'an ArrayBuffer body comes back an ArrayBuffer')
  t.same([...new Uint8Array(abBack as ArrayBuffer)], [7, 8])
  t.same(frames[5], { id: 4, value: { json: '{"ok":true}', body: null } })
  t.same(frames[6], { id: 5, error: { code: 'RUNNER_CRASHED', message: 'lost', retryable: true } })
  t.same(frames[7], { hostCall: 5, call: { tenantId: 'acme', name: 'cache.get', args: ['k', { deep: [1, 'two', null, true] }] } })
  const reply = (frames[8] as { answer: { value: { gone?: unknown; negative: number; holes: number[]; nan: number } } }).answer.value
  t.ok('gone' in reply && reply.gone === undefined, 'what JSON would drop goes the V8 way: an undefined property stays')
  t.ok(Object.is(reply.negative, -0), '-0 stays -0')
  t.notOk(1 in reply.holes, 'a hole stays a hole')
  t.ok(Number.isNaN(reply.nan))
  t.equal(task.body, u8, "the sender's own frame is left as it was")

  // The second write is the batch of the eight after it: version byte 1, its JSON, the bodies as raw bytes.
  const bytes = Buffer.concat(raw)
  const first = 4 + bytes.readUInt32BE(0)
  const batch = bytes.subarray(first + 4)
  t.equal(batch.readUInt8(0), 1, 'a batch, not a V8 payload')
  const json = batch.toString('utf8', 5, 5 + batch.readUInt32BE(1))
  const [entries, v8Bytes] = JSON.parse(json) as [unknown[][], number]
  t.same(entries.map((entry) => entry[0]), [3, 2, 4, 4, 4, 0, 0, 2], 'runs and answers as their fields in order, with their texts and bodies beside them; the host call with a Map and a Date, and the reply with undefined, -0, a hole and NaN, in the V8 part; the rest plain JSON')
  t.ok(v8Bytes > 0)
  t.ok(batch.includes(Buffer.from('buffer body')), 'a body is in the batch as its own bytes')
  t.ok(batch.includes(Buffer.from('{"kind":"fetch"}')) && batch.includes(Buffer.from('{"env":{"greeting":"héllo ✓"}}')), "a task's JSON texts are in the batch as UTF-8 bytes")
  t.notOk(json.includes('kind') || json.includes('greeting') || json.includes('"ok"'), "and not escaped inside the batch's JSON, nor an answer's")
  t.notOk(json.includes('"near"') || json.includes('"head"') || json.includes('"body"'), 'a run and an answer are their fields in order, without their names')
})

t.test('run frames passing through a channel die young: nothing keeps them until a full collection', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', ...nodeArgs('test/fixtures/promotion.ts'), 'frames'], { cwd: ROOT, timeout: 60_000 })
  const { sentBytes, promotedBytes } = JSON.parse(stdout) as { sentBytes: number; promotedBytes: number }
  // With a V8 serializer per batch (before): 11 MB of 50 promoted, and 4 full collections.
  t.ok(promotedBytes < sentBytes * 0.1, `${promotedBytes} of ${sentBytes} bytes of frames promoted to the old generation`)
})
