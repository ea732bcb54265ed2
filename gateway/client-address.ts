/**
 * What a script learns of its client, as on Cloudflare: `cf-connecting-ip` is the address of the
 * peer that connected to the gateway (a client's own `cf-connecting-ip` is dropped: it cannot be
 * spoofed), `x-forwarded-for` is the client's list with the peer appended, and
 * `x-forwarded-proto` / `x-forwarded-host` say how the request arrived when a proxy in front did
 * not say so already. Behind a proxy, the peer is the proxy: the client is then the address the
 * proxy appended to `x-forwarded-for`.
 */
export function addClientHeaders(headers: Array<[string, string]>, peer: string, host: string, proto: string): void {
  let forwardedFor: string | null = null
  let hasProto = false
  let hasHost = false
  for (let i = headers.length - 1; i >= 0; i--) {
    const [name, value] = headers[i] as [string, string]
    if (name === 'cf-connecting-ip' || name === 'x-forwarded-for') {
      if (name === 'x-forwarded-for') forwardedFor = forwardedFor === null ? value : `${value}, ${forwardedFor}`
      headers.splice(i, 1)
    } else if (name === 'x-forwarded-proto') {
      hasProto = true
    } else if (name === 'x-forwarded-host') {
      hasHost = true
    }
  }
  if (peer !== '') {
    headers.push(['cf-connecting-ip', peer])
    headers.push(['x-forwarded-for', forwardedFor === null ? peer : `${forwardedFor}, ${peer}`])
  } else if (forwardedFor !== null) {
    headers.push(['x-forwarded-for', forwardedFor])
  }
  if (!hasProto) headers.push(['x-forwarded-proto', proto])
  if (!hasHost && host !== '') headers.push(['x-forwarded-host', host])
}

/** uWS gives IPv4 peers on a dual-stack socket as IPv4-mapped IPv6 (`::ffff:127.0.0.1`): the plain address. */
export function peerAddress(text: string): string {
  const lower = text.toLowerCase()
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7)
  // The long form uWS may print: 0000:0000:0000:0000:0000:ffff:7f00:0001.
  const mapped = /^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
  if (mapped !== null) {
    const high = Number.parseInt(mapped[1] as string, 16)
    const low = Number.parseInt(mapped[2] as string, 16)
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`
  }
  return text
}
