import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { load } from '../bench/load.js'
import { percentile } from '../bench/percentile.js'

t.test('a bench load says which statuses its non-2xx answers had, and how many of each', async (t) => {
  // Every other request is refused, as an admission queue past its target would refuse it.
  const server = createServer((request, response) => {
    const status = request.url === '/busy' ? 429 : request.url === '/gone' ? 503 : 200
    response.writeHead(status, { 'content-type': 'text/plain' }).end(String(status))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const port = (server.address() as AddressInfo).port
  const own = { pid: process.pid, port, adminPort: 0, stop: async () => undefined }
  const measured = await load(own, { port, paths: ['/ok', '/busy', '/ok', '/gone'], connections: 2, seconds: 5, amount: 40, spread: true })
  t.equal(measured.requests, 40)
  t.equal(measured.non2xx, 20)
  t.same(measured.statuses, { '429': 10, '503': 10 }, 'the refusals by status; the 2xx answers are not listed')

  const clean = await load(own, { port, paths: ['/ok'], connections: 1, seconds: 5, amount: 5 })
  t.same(clean.statuses, {}, 'none when every answer was 2xx')
})

t.test('a bench load\'s latencies are each answer\'s own time, not whole milliseconds', async (t) => {
  // Each answer waits for a 2 ms timer: 2 ms and a fraction.
  const server = createServer((_request, response) => {
    setTimeout(() => response.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), 2)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const port = (server.address() as AddressInfo).port
  const measured = await load({ pid: process.pid, port, adminPort: 0, stop: async () => undefined }, { port, paths: ['/'], connections: 1, seconds: 5, amount: 30 })
  t.ok(measured.p50 >= 2, `p50 ${measured.p50} ms: at least the timer`)
  t.not(measured.p50, Math.floor(measured.p50), 'with its fraction of a millisecond (autocannon\'s histogram keeps whole ones)')
  t.ok(measured.p50 <= measured.p99 && measured.p99 <= measured.max, 'p50 <= p99 <= max')
})

t.test('percentile: the nearest rank', async (t) => {
  t.equal(percentile([1, 2, 3, 4], 0.25), 1)
  t.equal(percentile([1, 2, 3, 4], 0.5), 2)
  t.equal(percentile([1, 2, 3, 4], 0.99), 4)
  t.equal(percentile([1, 2, 3, 4], 1), 4)
  t.equal(percentile([7], 0.5), 7)
  t.ok(Number.isNaN(percentile([], 0.5)), 'no samples: no value')
})
