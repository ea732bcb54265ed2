import net from 'node:net'

/** What came back on one connection for the bytes sent, and what became of the connection. */
export interface RawExchange {
  /** Every byte the server sent, as latin1 text. */
  data: string
  /** The status codes of every response found in `data`, in order. */
  statuses: number[]
  /** The server closed the connection (FIN or reset) within the wait. */
  closed: boolean
}

/**
 * Writes raw bytes to the data plane on one fresh connection and collects the answer for up to
 * `waitMs` (sooner when the server closes). `halfClose` ends the writing side after the bytes.
 */
export function exchange(port: number, bytes: string | Buffer, options: { waitMs?: number; halfClose?: boolean } = {}): Promise<RawExchange> {
  const waitMs = options.waitMs ?? 500
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    let done = false
    const finish = (closed: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const statuses = [...data.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]))
      resolve({ data, statuses, closed })
    }
    const timer = setTimeout(() => finish(false), waitMs)
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
    })
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.on('connect', () => {
      if (options.halfClose) socket.end(bytes)
      else socket.write(bytes)
    })
  })
}

/** The JSON body of the first response in `data`, or null. */
export function firstJson(data: string): any {
  const start = data.indexOf('\r\n\r\n')
  if (start === -1) return null
  const text = data.slice(start + 4)
  const end = text.indexOf('HTTP/1.1 ')
  try {
    return JSON.parse(end === -1 ? text : text.slice(0, end))
  } catch {
    // Not JSON (or cut): the caller asserts on the raw data instead.
    return null
  }
}
