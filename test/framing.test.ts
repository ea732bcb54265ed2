import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { FrameChannel, type RunnerResponse } from '../runner/framing.js'
import { decodeResult, decodeTask, encodeResult, encodeTask, programKey, type WireResult, type WireTask } from '../runner/protocol.js'

/** A connected pair of real Unix domain sockets. */
async function socketPair(t: Test): Promise<{ client: Socket; server: Socket }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'isogate-framing-'))
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
    rmSync(dir, { recursive: true, force: true })
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
  t.same(decodeTask({ ...wire, source: undefined }).program, { tenantId: 'acme', scriptId: 's1', version: 3, sourceHash: 'abc' })
  const text = { ...binary, input: { ...binary.input, body: 'héllo \ud800' } }
  t.same(decodeTask(encodeTask(text)), text, 'a text body (lone surrogate and all) stays in the JSON')
  const scheduled = { kind: 'scheduled' as const, program, input: { cron: '* * * * *', when: 1 }, env: {}, limits }
  t.same(decodeTask(encodeTask(scheduled)), scheduled)

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
  const received = collect(server, 2)
  const sender = new FrameChannel(client, () => {})
  sender.send({ id: 1, message: { type: 'run', task: wire } })
  sender.send({ id: 1, value: encodeResult(answered) })
  const [request, response] = (await received.done) as [{ message: { task: WireTask } }, { value: WireResult }]
  t.same(decodeTask(request.message.task), binary)
  t.same(new Uint8Array(decodeResult(response.value).response?.body as ArrayBuffer), new Uint8Array([1, 2, 3]))
})
