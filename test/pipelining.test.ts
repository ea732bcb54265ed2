import { connect } from 'node:net'
import t from 'tap'
import { call, deploy, startTestIsogate } from './helpers/isogate.js'

/**
 * HTTP/1.1 pipelining against this uWS build (see gateway/data-plane.ts): uWS answers pipelined
 * requests that are answered synchronously, in order, but closes a connection when a pipelined
 * request is parsed while an asynchronous response on it is pending ("denying async pipelining",
 * uWS HttpContext.h). Script runs are asynchronous. These tests pin down what a client sees, so
 * a uWS upgrade that changes it shows up here.
 */

function exchange(port: number, payload: string, waitMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    let closed = false
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ text, closed })
    }, waitMs)
    socket.on('data', (chunk) => (text += chunk.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => {
      closed = true
      clearTimeout(timer)
      resolve({ text, closed })
    })
    socket.write(payload)
  })
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`

t.test('pipelining on the data plane', async (t) => {
  const isogate = await startTestIsogate(t)
  await deploy(isogate, 'pipe', '/hello', 'export default { fetch() { return new Response("hello") } }')

  t.test('pipelined requests the gateway answers at once come back in order on one connection', async (t) => {
    const { text } = await exchange(isogate.dataPort, get('/pipe/none-1') + get('/nope/x') + get('/pipe/none-2'), 1000)
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])
    t.same(statuses, ['404', '404', '404'])
    t.match(text, /ROUTE_NOT_FOUND[\s\S]*TENANT_NOT_FOUND[\s\S]*ROUTE_NOT_FOUND/)
  })

  t.test('a request pipelined behind a script run closes the connection; the gateway keeps serving', async (t) => {
    const { text, closed } = await exchange(isogate.dataPort, get('/pipe/hello') + get('/pipe/hello'))
    t.equal(closed, true, 'uWS closed the connection')
    t.notMatch(text, /HTTP\/1\.1 200[\s\S]*HTTP\/1\.1 200/, 'not both answered')
    const after = await call(isogate, '/pipe/hello')
    t.equal(after.status, 200)
    t.equal(await after.text(), 'hello')
  })

  t.test('one request at a time on a keep-alive connection is served in full', async (t) => {
    const socket = connect(isogate.dataPort, '127.0.0.1')
    t.teardown(() => socket.destroy())
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    for (let i = 0; i < 3; i++) {
      const answer = new Promise<string>((resolve) => {
        let text = ''
        const onData = (chunk: Buffer): void => {
          text += chunk.toString('latin1')
          if (text.endsWith('hello')) {
            socket.off('data', onData)
            resolve(text)
          }
        }
        socket.on('data', onData)
      })
      socket.write(get('/pipe/hello'))
      t.match(await answer, /^HTTP\/1\.1 200 OK[\s\S]*content-length: 5/i)
    }
  })
})
