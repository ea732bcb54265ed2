import t, { type Test } from 'tap'
import net from 'node:net'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { ApiClient } from '../src/cli/api-client.js'

/**
 * A WebSocket server of one trick, on loopback: it answers the upgrade and sends its first message
 * in the same write, as a loaded machine can deliver the two in one read (the live tail's "ready").
 */
async function eagerServer(t: Test, message: string): Promise<{ url: string; upgrades: string[] }> {
  const upgrades: string[] = []
  const server = net.createServer((connection) => {
    connection.once('data', (request) => {
      const head = request.toString('latin1')
      upgrades.push(head)
      const key = /^sec-websocket-key: *(.+)\r$/im.exec(head)?.[1] ?? ''
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
      const payload = Buffer.from(message)
      const frame = Buffer.concat([Buffer.from([0x81, payload.length]), payload])
      connection.write(Buffer.concat([Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`, 'latin1'), frame]))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, upgrades }
}

t.test("a WebSocket's first message that arrives with the upgrade's answer reaches the caller (the tail's ready was lost so)", async (t) => {
  const { url, upgrades } = await eagerServer(t, '{"type":"ready"}')
  const messages: string[] = []
  const socket = await new ApiClient({ url, token: 'igk_test', tenant: 'acme' }).socket('/tail?script=a', (data) => messages.push(String(data)))
  t.teardown(() => socket.terminate())
  // Past the turns in which the frame that came with the upgrade is read.
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(messages, ['{"type":"ready"}'])
  t.match(upgrades[0], /^GET \/api\/v1\/tail\?script=a HTTP\/1.1\r\n/, 'the API path')
  t.match(upgrades[0], /^authorization: Bearer igk_test\r$/im, 'the key')
  t.match(upgrades[0], /^x-tenant: acme\r$/im, 'the tenant')
})
