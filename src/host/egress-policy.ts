import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import { refusalOf } from './address-class.js'
import { hostMatches } from './host-pattern.js'
import { ResolveOverrides, type ResolveOverride } from './resolve-overrides.js'

/** A policy answer; a refusal says why in words a script author understands. */
export type EgressDecision = { allowed: true } | { allowed: false; reason: string }

export interface EgressPolicyOptions {
  /**
   * Non-public ranges a trusted operator allows anyway, as CIDRs or single addresses
   * (`'127.0.0.2/32'`, `'10.1.0.0/16'`, `'fd12::/64'`), e.g. for an internal API or tests on
   * loopback. Default none.
   */
  allowPrivateRanges?: readonly string[]
  /**
   * The hosts a tenant may reach (`'api.example.com'`, `'*.example.com'` for any name below it),
   * or undefined for any public host. Called with the tenant id on every request and redirect hop.
   * An allowed host must still resolve to allowed addresses.
   */
  allowedHosts?: (tenantId: string) => readonly string[] | undefined
  /**
   * Exact host names and ports the operator maps to an address (`'example.com:443:10.0.0.7'`,
   * `'api.internal:80:127.0.0.1:8080'`): a fetch of that name and port connects there without DNS,
   * and the address is allowed for it although it may be private. See ResolveOverrides.
   */
  resolve?: readonly string[] | ResolveOverrides
}

const DEFAULTS = { allowPrivateRanges: [] as readonly string[], allowedHosts: (): undefined => undefined }

/**
 * Ports the Fetch standard blocks ("bad port"), so a script cannot speak HTTP at SMTP, IRC and
 * the like (https://fetch.spec.whatwg.org/#port-blocking).
 */
const BLOCKED_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
])

/**
 * Decides where scripts may send requests: which URLs (scheme, port, the tenant's host
 * allowlist) and which addresses (public unicast only, unless an operator allows a range).
 * Pure and synchronous: it never resolves or connects; GuardedFetch resolves and asks it.
 *
 * @example
 * const policy = new EgressPolicy({ allowPrivateRanges: ['127.0.0.2/32'] })
 * policy.checkUrl('tenant-1', new URL('http://2130706433/'))
 * // { allowed: false, reason: '127.0.0.1 is loopback' }
 * policy.checkAddress('93.184.216.34') // { allowed: true }
 */
export class EgressPolicy {
  readonly #allowedRanges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>
  readonly #allowedHosts: (tenantId: string) => readonly string[] | undefined
  readonly #resolve: ResolveOverrides

  constructor(options: EgressPolicyOptions = {}) {
    const ranges = options.allowPrivateRanges ?? DEFAULTS.allowPrivateRanges
    if (!Array.isArray(ranges)) throw new TypeError('options.allowPrivateRanges must be an array of CIDR strings')
    this.#allowedRanges = ranges.map((range, index) => parseRange(range, index))
    const allowedHosts = options.allowedHosts ?? DEFAULTS.allowedHosts
    if (typeof allowedHosts !== 'function') throw new TypeError('options.allowedHosts must be a function of the tenant id')
    this.#allowedHosts = allowedHosts
    const resolve = options.resolve ?? []
    this.#resolve = resolve instanceof ResolveOverrides ? resolve : new ResolveOverrides(resolve)
  }

  /**
   * The operator's address for this URL's exact host and port, if one is set: a URL that
   * checkUrl allowed then connects there, and only there, without DNS and without the address
   * checks (the operator vouched for that name and port, not for the address in general).
   */
  overrideFor(url: URL): ResolveOverride | undefined {
    return this.#resolve.find(url)
  }

  /** Scheme, credentials, port, the tenant's host allowlist, and the address when the host is one. */
  checkUrl(tenantId: string, url: URL): EgressDecision {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return deny(`only http: and https: URLs may be fetched, not ${url.protocol}`)
    }
    // The Fetch standard refuses these too; here they would also leak into logs and redirects.
    if (url.username !== '' || url.password !== '') return deny('URLs with credentials are not allowed')
    if (url.port !== '' && BLOCKED_PORTS.has(Number(url.port))) return deny(`port ${url.port} is blocked`)
    const hostname = url.hostname
    const patterns = this.#allowedHosts(tenantId)
    if (patterns !== undefined && !patterns.some((pattern) => hostMatches(pattern, hostname))) {
      return deny(`${hostname} is not on this tenant's list of allowed hosts`)
    }
    const literal = unbracket(hostname)
    return isIP(literal) === 0 ? { allowed: true } : this.checkAddress(literal)
  }

  /**
   * Whether a connection to this address is allowed: public unicast, or inside a range the
   * operator allows. An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
   */
  checkAddress(address: string): EgressDecision {
    if (typeof address !== 'string' || !ipaddr.isValid(address)) return deny(`${JSON.stringify(address)} is not an IP address`)
    const parsed = ipaddr.process(address)
    if (this.#allowedRanges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) {
      return { allowed: true }
    }
    const refusal = refusalOf(parsed)
    return refusal === null ? { allowed: true } : deny(`${parsed.toString()} is ${refusal}`)
  }
}

function deny(reason: string): EgressDecision {
  return { allowed: false, reason }
}

/** `[::1]` as URL.hostname writes it, to `::1`. */
export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
}

function parseRange(range: unknown, index: number): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (typeof range !== 'string') throw new TypeError(`options.allowPrivateRanges[${index}] must be a string`)
  if (ipaddr.isValidCIDR(range)) return ipaddr.parseCIDR(range)
  if (isIP(range) !== 0) {
    const address = ipaddr.parse(range)
    return [address, address.kind() === 'ipv4' ? 32 : 128]
  }
  throw new RangeError(`options.allowPrivateRanges[${index}] must be a CIDR like 127.0.0.2/32, got ${JSON.stringify(range)}`)
}
