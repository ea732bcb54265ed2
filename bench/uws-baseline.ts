// The baseline server: raw uWebSockets.js answering "hello" (native binary, like the gateway).
import { loadUws } from '../gateway/uws.js'

const uws = loadUws()
const app = uws.App()
app.any('/*', (res) => {
  res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'text/plain;charset=UTF-8').end('hello'))
})
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) process.exit(1)
  process.stdout.write(`listening on ${uws.us_socket_local_port(socket as never)}\n`)
})
process.on('SIGTERM', () => process.exit(0))
