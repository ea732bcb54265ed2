import { createHmac, generateKeyPairSync, sign as nodeSign, createCipheriv, randomBytes } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { IsolatePool } from '../runner/index.js'
import { bodyText, fetchTask } from './helpers/programs.js'

// The Workers web platform inside a real isolate on real worker threads: each API is checked
// for what the spec (or Node, whose WebCrypto the host runs) says it does, not just for presence.
const pool = new IsolatePool({ threads: 1 })
t.teardown(() => pool.close())

async function run(source: string, input: Parameters<typeof fetchTask>[2] = {}, tenant = 'tenant-platform') {
  const result = await pool.run(fetchTask(tenant, source, input))
  if (!result.ok) throw new Error(`run failed: ${JSON.stringify(result.error)} ${JSON.stringify(result.logs)}`)
  return { result, text: bodyText(result.response?.body), json: () => JSON.parse(bodyText(result.response?.body)) }
}

t.test('HMAC-SHA256 sign matches a known vector (RFC 4231 case 2) and verify round-trips', async (t) => {
  const { json } = await run(`export default { async fetch() {
    const enc = new TextEncoder()
    const key = await crypto.subtle.importKey('raw', enc.encode('Jefe'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode('what do ya want for nothing?')))
    const hex = [...mac].map((b) => b.toString(16).padStart(2, '0')).join('')
    const ok = await crypto.subtle.verify('HMAC', key, mac, enc.encode('what do ya want for nothing?'))
    const bad = await crypto.subtle.verify('HMAC', key, mac, enc.encode('tampered'))
    let exportError = null
    try { await crypto.subtle.exportKey('raw', key) } catch (e) { exportError = e.name }
    return Response.json({ hex, ok, bad, type: key.type, algorithm: key.algorithm.name, hash: key.algorithm.hash.name, exportError, isKey: key instanceof CryptoKey })
  } }`)
  t.same(json(), {
    hex: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    ok: true, bad: false, type: 'secret', algorithm: 'HMAC', hash: 'SHA-256', exportError: 'InvalidAccessError', isKey: true,
  })
  t.equal(createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex'), json().hex)
})

t.test('ECDSA P-256 and Ed25519 signatures made by Node verify inside the isolate; a wrong one does not', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ed = generateKeyPairSync('ed25519')
  const message = Buffer.from('signed by node')
  const ecSig = nodeSign('sha256', message, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' })
  const edSig = nodeSign(null, message, ed.privateKey)
  const ecSpki = ec.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  const edJwk = ed.publicKey.export({ format: 'jwk' })
  const { json } = await run(`export default { async fetch() {
    const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))
    const message = new TextEncoder().encode('signed by node')
    const ec = await crypto.subtle.importKey('spki', b64('${ecSpki}'), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])
    const ed = await crypto.subtle.importKey('jwk', ${JSON.stringify(edJwk)}, { name: 'Ed25519' }, true, ['verify'])
    return Response.json({
      ec: await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, ec, b64('${ecSig.toString('base64')}'), message),
      ed: await crypto.subtle.verify('Ed25519', ed, b64('${edSig.toString('base64')}'), message),
      edWrong: await crypto.subtle.verify('Ed25519', ed, b64('${edSig.toString('base64')}'), new TextEncoder().encode('other')),
      curve: ec.algorithm.namedCurve,
    })
  } }`)
  t.same(json(), { ec: true, ed: true, edWrong: false, curve: 'P-256' })
})

t.test('AES-GCM round-trips, decrypts what Node encrypted, and a tampered ciphertext fails with OperationError', async (t) => {
  const key = randomBytes(32)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const sealed = Buffer.concat([cipher.update('from node'), cipher.final(), cipher.getAuthTag()])
  const { json } = await run(`export default { async fetch() {
    const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))
    const key = await crypto.subtle.importKey('raw', b64('${key.toString('base64')}'), 'AES-GCM', false, ['encrypt', 'decrypt'])
    const iv = crypto.getRandomValues(new Uint8Array(12))
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode('round trip'))
    const back = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, ct))
    const node = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: b64('${iv.toString('base64')}') }, key, b64('${sealed.toString('base64')}')))
    const bad = new Uint8Array(ct); bad[0] ^= 1
    let tampered = null
    try { await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, bad) } catch (e) { tampered = e.name + ':' + (e instanceof DOMException) }
    const generated = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign', 'verify'])
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, generated.privateKey, iv)
    const pbkdf = await crypto.subtle.importKey('raw', new TextEncoder().encode('password'), 'PBKDF2', false, ['deriveBits'])
    const bits = new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', salt: new TextEncoder().encode('salt'), iterations: 1, hash: 'SHA-1' }, pbkdf, 160))
    return Response.json({ back, node, tampered, ecdsa: await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-384' }, generated.publicKey, sig, iv),
      pbkdf2: [...bits].map((b) => b.toString(16).padStart(2, '0')).join(''), equal: crypto.subtle.timingSafeEqual(iv, iv.slice()) })
  } }`)
  t.same(json(), {
    back: 'round trip', node: 'from node', tampered: 'OperationError:true', ecdsa: true,
    // RFC 6070, case 1.
    pbkdf2: '0c60c80f961f0e71f3a9b524af6012062fe037a6', equal: true,
  })
})

t.test('request.formData() parses a multipart body with a file part, and urlencoded bodies', async (t) => {
  const boundary = 'XyZ'
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--${boundary}--\r\n`
  const source = `export default { async fetch(request) {
    const form = await request.formData()
    const file = form.get('upload')
    return Response.json({ title: form.get('title'), isFile: file instanceof File, isBlob: file instanceof Blob, name: file.name, type: file.type, size: file.size, text: await file.text(), keys: [...form.keys()] })
  } }`
  const { json } = await run(source, { method: 'POST', headers: [['content-type', `multipart/form-data; boundary=${boundary}`]], body })
  t.same(json(), { title: 'hello', isFile: true, isBlob: true, name: 'a.txt', type: 'text/plain', size: 9, text: 'file body', keys: ['title', 'upload'] })
  const urlencoded = await run(`export default { async fetch(request) { const f = await request.formData(); return Response.json(f.getAll('a')) } }`, {
    method: 'POST', headers: [['content-type', 'application/x-www-form-urlencoded']], body: 'a=1&a=two+words&b=3',
  })
  t.same(urlencoded.json(), ['1', 'two words'])
  const roundTrip = await run(`export default { async fetch() {
    const form = new FormData(); form.append('x', 'y'); form.append('f', new Blob(['zz'], { type: 'text/x' }), 'z.txt')
    const again = await new Response(form).formData()
    return Response.json({ x: again.get('x'), f: await again.get('f').text(), name: again.get('f').name })
  } }`)
  t.same(roundTrip.json(), { x: 'y', f: 'zz', name: 'z.txt' })
})

t.test('streams: a Response from a ReadableStream, TransformStream piping, TextEncoderStream, gzip CompressionStream and a request body read as a stream', async (t) => {
  const { json } = await run(`export default { async fetch(request) {
    let chunks = 0
    const reader = request.body.getReader()
    for (;;) { const { done, value } = await reader.read(); if (done) break; chunks += value.byteLength }
    const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()) } })
    const source = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close() } })
    const bytes = source.pipeThrough(upper).pipeThrough(new TextEncoderStream())
    const text = await new Response(bytes).text()
    const gz = new Response(new Blob(['x'.repeat(1000)]).stream().pipeThrough(new CompressionStream('gzip')))
    const zipped = new Uint8Array(await gz.arrayBuffer())
    const unzipped = await new Response(new Blob([zipped]).stream().pipeThrough(new DecompressionStream('gzip'))).text()
    return Response.json({ chunks, text, zippedSmaller: zipped.byteLength < 100, magic: [zipped[0], zipped[1]], roundTrip: unzipped.length })
  } }`, { method: 'POST', body: 'twelve bytes' })
  t.same(json(), { chunks: 12, text: 'AB', zippedSmaller: true, magic: [0x1f, 0x8b], roundTrip: 1000 })
  const streamed = await run(`export default { fetch() {
    const body = new ReadableStream({ async pull(c) { c.enqueue(new TextEncoder().encode('part;')); if (++this.n >= 3) c.close() }, n: 0 })
    const gz = body.pipeThrough(new CompressionStream('gzip'))
    return new Response(gz, { headers: { 'content-encoding': 'gzip' } })
  } }`)
  t.equal(gunzipSync(Buffer.from(streamed.result.response?.body as ArrayBuffer)).toString(), 'part;part;part;')
})

t.test('timers, performance, navigator, URLPattern, CustomEvent, scheduler.wait', async (t) => {
  const { json } = await run(`export default { async fetch() {
    let ticks = 0
    await new Promise((resolve) => { const id = setInterval(() => { if (++ticks === 3) { clearInterval(id); resolve() } }, 5) })
    const t0 = performance.now()
    await scheduler.wait(10)
    const pattern = new URLPattern({ pathname: '/books/:id' })
    const match = pattern.exec('https://example.com/books/42')
    const target = new EventTarget(); let detail = null
    target.addEventListener('ping', (e) => { detail = e.detail })
    target.dispatchEvent(new CustomEvent('ping', { detail: { n: 1 } }))
    return Response.json({ ticks, waited: performance.now() - t0 >= 9, origin: typeof performance.timeOrigin, ua: navigator.userAgent, id: match.pathname.groups.id, test: pattern.test('https://example.com/cars/1'), detail })
  } }`)
  t.same(json(), { ticks: 3, waited: true, origin: 'number', ua: 'isogate', id: '42', test: false, detail: { n: 1 } })
})

t.test('node: built-ins import statically: Buffer, EventEmitter, util, assert, createHash/createHmac', async (t) => {
  const { json } = await run(`import { Buffer } from 'node:buffer'
import { EventEmitter } from 'node:events'
import { promisify, format } from 'node:util'
import assert from 'node:assert'
import { createHash, createHmac, timingSafeEqual, randomUUID } from 'node:crypto'
export default { async fetch() {
  const emitter = new EventEmitter(); let heard = null
  emitter.on('x', (v) => { heard = v }); emitter.emit('x', 7)
  const wait = promisify((ms, cb) => setTimeout(() => cb(null, ms), ms))
  let assertion = null
  try { assert.deepStrictEqual({ a: 1 }, { a: 2 }) } catch (e) { assertion = e.code }
  return Response.json({
    b64: Buffer.from('hello').toString('base64'), hex: Buffer.from([1, 255]).toString('hex'), heard, waited: await wait(1), fmt: format('%s=%d', 'n', 5),
    assertion, sha: createHash('sha256').update('abc').digest('hex'), hmac: createHmac('sha256', 'key').update('data').digest('base64'),
    same: timingSafeEqual(Buffer.from('a'), Buffer.from('a')), uuid: /^[0-9a-f-]{36}$/.test(randomUUID()),
  })
} }`)
  t.same(json(), {
    b64: 'aGVsbG8=', hex: '01ff', heard: 7, waited: 1, fmt: 'n=5', assertion: 'ERR_ASSERTION',
    sha: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', hmac: createHmac('sha256', 'key').update('data').digest('base64'),
    same: true, uuid: true,
  })
})

t.test('any other node: import is refused with SCRIPT_IMPORT_FORBIDDEN naming line and column', async (t) => {
  const result = await pool.run(fetchTask('tenant-platform', `\nimport fs from 'node:fs'\nexport default { fetch() { return new Response('') } }`))
  t.equal(result.ok, false)
  t.match(result.error, { code: 'SCRIPT_IMPORT_FORBIDDEN', line: 2, column: 1 })
  t.match(result.error?.message, /node:fs/)
})

t.test('a rejected waitUntil promise is logged into the run at level error with its stack', async (t) => {
  const { result } = await run(`export default { fetch(request, env, ctx) {
    ctx.waitUntil((async () => { await scheduler.wait(1); throw new Error('late failure') })())
    return new Response('ok')
  } }`)
  const line = result.logs.find((log) => log.level === 'error')
  t.match(line?.message, /Uncaught \(in waitUntil\): Error: late failure\n\s+at /)
})
