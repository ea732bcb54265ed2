import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

/** Where a fetch of one host and port connects instead of what DNS says. */
export interface ResolveOverride {
  /** The host name as `URL.hostname` writes it (lowercase, no trailing dot). */
  readonly hostname: string
  /** The port the script asked for (the scheme's default when the URL names none). */
  readonly port: number
  /** The address connected to, normalized (IPv4-mapped IPv6 written as IPv4). */
  readonly address: string
  readonly family: 4 | 6
  /** The port connected to; the asked port unless the entry names another. */
  readonly connectPort: number
}

/**
 * One entry: `host:port:address[:port]`, an IPv6 address in brackets. The host is a name, never
 * a pattern: an operator vouches for exact names, one port each.
 */
const ENTRY = /^([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*):(\d{1,5}):(\[[0-9a-f:.]+\]|[0-9.]+)(?::(\d{1,5}))?$/i

/**
 * The operator's map of exact host names and ports to addresses, in the spirit of curl's
 * `--resolve host:port:address` and `--connect-to`: a script's `fetch('https://example.com/')`
 * with `example.com:443:10.0.0.7` connects to 10.0.0.7:443 without asking DNS, and the address
 * is allowed although it is private, for that name and port only. Everything else about the
 * request stays: the Host header, TLS SNI and the certificate check use the real name, the
 * tenant's host allowlist still applies. Any other name, port or literal address still goes
 * through DNS and the address checks, so mapping one name opens nothing else.
 *
 * Operators use it for internal services whose names are not in public DNS; the tests use it to
 * point Cloudflare's published examples, which fetch fixed Internet hosts, at a server on loopback.
 *
 * @example
 * const overrides = new ResolveOverrides(['example.com:443:127.0.0.1:8443'])
 * overrides.find(new URL('https://example.com/x')) // { address: '127.0.0.1', connectPort: 8443, ... }
 * overrides.find(new URL('https://example.com:444/')) // undefined
 */
export class ResolveOverrides {
  readonly #entries = new Map<string, ResolveOverride>()

  /** Throws TypeError or RangeError naming the entry that is not well formed. */
  constructor(entries: readonly string[] = []) {
    if (!Array.isArray(entries)) throw new TypeError('entries must be an array of host:port:address[:port] strings')
    entries.forEach((entry, index) => {
      const override = parseResolveEntry(entry, `entries[${index}]`)
      const key = `${override.hostname}:${override.port}`
      if (this.#entries.has(key)) throw new RangeError(`entries[${index}]: ${key} is mapped twice`)
      this.#entries.set(key, override)
    })
  }

  get size(): number {
    return this.#entries.size
  }

  /** The override for this URL's host and port, if the operator set one. Literal addresses have none. */
  find(url: URL): ResolveOverride | undefined {
    if (this.#entries.size === 0) return undefined
    const hostname = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
    return this.#entries.get(`${hostname}:${port}`)
  }
}

/**
 * Parses one `host:port:address[:port]` entry; `label` names it in the error.
 *
 * @example
 * parseResolveEntry('api.internal:80:[fd12::7]:8080', 'ISOGATE_EGRESS_RESOLVE')
 * // { hostname: 'api.internal', port: 80, address: 'fd12::7', family: 6, connectPort: 8080 }
 */
export function parseResolveEntry(entry: unknown, label: string): ResolveOverride {
  if (typeof entry !== 'string') throw new TypeError(`${label} must be a string like example.com:443:10.0.0.7`)
  const match = ENTRY.exec(entry.trim())
  if (match === null) throw new RangeError(`${label}: ${JSON.stringify(entry)} is not host:port:address[:port] (example.com:443:10.0.0.7, api.internal:80:[fd12::7]:8080)`)
  const [, host, portText, addressText, connectText] = match as unknown as [string, string, string, string, string | undefined]
  if (isIP(host) !== 0) throw new RangeError(`${label}: ${host} is an address; only host names are mapped`)
  const literal = addressText.startsWith('[') ? addressText.slice(1, -1) : addressText
  if (isIP(literal) === 0) throw new RangeError(`${label}: ${addressText} is not an IP address`)
  if (addressText.startsWith('[') !== (isIP(literal) === 6)) throw new RangeError(`${label}: write an IPv6 address in brackets, an IPv4 one without`)
  const port = portOf(portText, label)
  const parsed = ipaddr.process(literal)
  return {
    hostname: host.toLowerCase(),
    port,
    address: parsed.toString(),
    family: parsed.kind() === 'ipv4' ? 4 : 6,
    connectPort: connectText === undefined ? port : portOf(connectText, label),
  }
}

function portOf(text: string, label: string): number {
  const port = Number(text)
  if (port < 1 || port > 65535) throw new RangeError(`${label}: port ${text} is not between 1 and 65535`)
  return port
}
