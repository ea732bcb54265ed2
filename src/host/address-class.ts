import ipaddr from 'ipaddr.js'

type Address = ipaddr.IPv4 | ipaddr.IPv6

/**
 * Cloud metadata endpoints, named first so the reason says so. Most sit in ranges refused anyway
 * (link-local, carrier-grade NAT, unique-local, 192.0.0.0/24); Azure's wire server
 * 168.63.129.16 is a public address and is refused only because it is listed here.
 */
const METADATA: readonly Address[] = [
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean, ...
  '169.254.170.2', // AWS ECS task metadata
  '168.63.129.16', // Azure wire server
  '100.100.100.200', // Alibaba Cloud
  '192.0.0.192', // Oracle Cloud
  'fd00:ec2::254', // AWS IMDS over IPv6
].map((text) => ipaddr.parse(text))

/** ipaddr.js range names, as a refusal says them. */
const RANGE_WORDS: Readonly<Record<string, string>> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  reserved: 'reserved',
  as112: 'AS112 anycast (reserved)',
  amt: 'AMT relay anycast (reserved)',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local (deprecated)',
  discard: 'discard-only (reserved)',
  benchmarking: 'benchmarking (reserved)',
  as112v6: 'AS112 anycast (reserved)',
  deprecatedOrchid: 'ORCHID (reserved)',
  orchid2: 'ORCHIDv2 (reserved)',
  droneRemoteIdProtocolEntityTags: 'drone remote ID (reserved)',
  segmentRouting: 'segment routing (reserved)',
}

/**
 * What makes an address unfit for outbound requests, or null for a public unicast address.
 * IPv4 must be ipaddr.js 'unicast'. IPv6 must be global unicast (2000::/3) outside every special
 * range; forms that carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4) are judged
 * by the address they carry, because that is where the packet ends up. Teredo is refused outright:
 * its embedded client address is obfuscated and its relays are not a destination a script needs.
 *
 * @example
 * refusalOf(ipaddr.parse('10.0.0.1'))           // 'private'
 * refusalOf(ipaddr.parse('::ffff:7f00:1'))      // 'IPv4-mapped 127.0.0.1, which is loopback'
 * refusalOf(ipaddr.parse('93.184.216.34'))      // null
 */
export function refusalOf(address: Address): string | null {
  if (METADATA.some((listed) => listed.kind() === address.kind() && listed.toString() === address.toString())) return 'cloud metadata'
  if (address.kind() === 'ipv4') {
    const range = address.range()
    return range === 'unicast' ? null : (RANGE_WORDS[range] ?? range)
  }
  return refusalOfIPv6(address as ipaddr.IPv6)
}

function refusalOfIPv6(address: ipaddr.IPv6): string | null {
  const parts = address.parts
  // range() names more ranges than its declared type lists (segmentRouting, discard, ...).
  const range: string = address.range()
  if (range === 'unspecified' || range === 'loopback') return range
  if (range === 'ipv4Mapped') return carried('IPv4-mapped', ipv4At(parts, 6), null)
  if (range === 'rfc6145') return carried('IPv4-translated', ipv4At(parts, 6), 'IPv4-translated (reserved)')
  // ::a.b.c.d (IPv4-compatible, deprecated by RFC 4291): the first 96 bits are zero.
  if (parts.slice(0, 6).every((part) => part === 0)) return carried('IPv4-compatible', ipv4At(parts, 6), 'IPv4-compatible (deprecated)')
  if (range === 'rfc6052') {
    // 64:ff9b::/96 is the well-known NAT64 prefix and reaches the carried IPv4 address;
    // 64:ff9b:1::/48 is for local use only (RFC 8215).
    if (parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0) return carried('NAT64', ipv4At(parts, 6), null)
    return 'NAT64 local-use (reserved)'
  }
  if (range === '6to4') return carried('6to4', ipv4At(parts, 1), null)
  if (range === 'teredo') return 'Teredo (tunnelled IPv4)'
  if (range !== 'unicast') return RANGE_WORDS[range] ?? range
  // Everything outside 2000::/3 is unassigned or special (RFC 4291, IANA registry).
  if (((parts[0] ?? 0) & 0xe000) !== 0x2000) return 'reserved'
  return null
}

/**
 * The refusal of a form that carries an IPv4 address: the carried address's, else `whenPublic`
 * (null where the form may reach a public address, a reason where the form itself is refused).
 */
function carried(form: string, inner: ipaddr.IPv4, whenPublic: string | null): string | null {
  const refusal = refusalOf(inner)
  return refusal === null ? whenPublic : `${form} ${inner.toString()}, which is ${refusal}`
}

function ipv4At(parts: readonly number[], index: number): ipaddr.IPv4 {
  const high = parts[index] ?? 0
  const low = parts[index + 1] ?? 0
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
}
