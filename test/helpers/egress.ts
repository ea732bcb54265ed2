// Shared by the egress tests.

export interface RefusedLiteral {
  url: string
  /** What the refusal must say. */
  reason: RegExp
  /**
   * Whether the address is on this machine (127/8, 0.0.0.0, ::1, ::, their mapped forms): only
   * those may be tried through a real client, against loopback canaries. A test never sends a
   * packet to any other address, not even one the guard should refuse.
   */
  local: boolean
}

/** Literal addresses in the encodings an attacker tries, with the reason the refusal must give. */
export const REFUSED_LITERALS: ReadonlyArray<RefusedLiteral> = [
  { url: 'http://127.0.0.1', reason: /^127\.0\.0\.1 is loopback$/, local: true },
  { url: 'http://2130706433', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // decimal
  { url: 'http://0x7f000001', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // hex
  { url: 'http://0X7F.1', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // hex, short form
  { url: 'http://0x7f.0x0.0x0.0x1', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // hex per part
  { url: 'http://0177.0.0.1', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // octal
  { url: 'http://0177.1', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // octal, short form
  { url: 'http://017700000001', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // octal, one number
  { url: 'http://127.1', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // short form
  { url: 'http://127.0.1', reason: /^127\.0\.0\.1 is loopback$/, local: true },
  { url: 'http://127.0.0.1.', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // trailing dot
  { url: 'http://127.255.255.254', reason: /^127\.255\.255\.254 is loopback$/, local: true },
  { url: 'http://0.0.0.0', reason: /^0\.0\.0\.0 is unspecified$/, local: true },
  { url: 'http://0', reason: /^0\.0\.0\.0 is unspecified$/, local: true },
  { url: 'http://[::1]', reason: /^::1 is loopback$/, local: true },
  { url: 'http://[0:0:0:0:0:0:0:1]', reason: /^::1 is loopback$/, local: true },
  { url: 'http://[::]', reason: /^:: is unspecified$/, local: true },
  { url: 'http://[::ffff:127.0.0.1]', reason: /^127\.0\.0\.1 is loopback$/, local: true }, // IPv4-mapped
  { url: 'http://[::ffff:7f00:1]', reason: /^127\.0\.0\.1 is loopback$/, local: true },
  { url: 'http://[0:0:0:0:0:ffff:7f00:1]', reason: /^127\.0\.0\.1 is loopback$/, local: true },
  { url: 'http://[::127.0.0.1]', reason: /^::7f00:1 is IPv4-compatible 127\.0\.0\.1, which is loopback$/, local: false },
  { url: 'http://[::ffff:0:7f00:1]', reason: /IPv4-translated 127\.0\.0\.1, which is loopback$/, local: false },
  { url: 'http://[64:ff9b::127.0.0.1]', reason: /^64:ff9b::7f00:1 is NAT64 127\.0\.0\.1, which is loopback$/, local: false },
  { url: 'http://[64:ff9b::a00:1]', reason: /NAT64 10\.0\.0\.1, which is private$/, local: false },
  { url: 'http://[64:ff9b:1::7f00:1]', reason: /NAT64 local-use/, local: false },
  { url: 'http://[2002:7f00:1::]', reason: /^2002:7f00:1:: is 6to4 127\.0\.0\.1, which is loopback$/, local: false },
  { url: 'http://[2002:a9fe:a9fe::1]', reason: /6to4 169\.254\.169\.254, which is cloud metadata$/, local: false },
  { url: 'http://[2001:0:7f00:1::1]', reason: /Teredo/, local: false },
  { url: 'http://169.254.169.254', reason: /^169\.254\.169\.254 is cloud metadata$/, local: false },
  { url: 'http://2852039166', reason: /^169\.254\.169\.254 is cloud metadata$/, local: false },
  { url: 'http://0xa9.0xfe.0xa9.0xfe', reason: /^169\.254\.169\.254 is cloud metadata$/, local: false },
  { url: 'http://[::ffff:169.254.169.254]', reason: /^169\.254\.169\.254 is cloud metadata$/, local: false },
  { url: 'http://[fd00:ec2::254]', reason: /cloud metadata/, local: false },
  { url: 'http://168.63.129.16', reason: /cloud metadata/, local: false },
  { url: 'http://100.100.100.200', reason: /cloud metadata/, local: false },
  { url: 'http://10.0.0.1', reason: /^10\.0\.0\.1 is private$/, local: false },
  { url: 'http://012.1', reason: /^10\.0\.0\.1 is private$/, local: false },
  { url: 'http://172.16.0.1', reason: /is private$/, local: false },
  { url: 'http://172.31.255.255', reason: /is private$/, local: false },
  { url: 'http://192.168.0.1', reason: /is private$/, local: false },
  { url: 'http://[::ffff:192.168.0.1]', reason: /^192\.168\.0\.1 is private$/, local: false },
  { url: 'http://100.64.0.1', reason: /carrier-grade NAT$/, local: false },
  { url: 'http://169.254.1.1', reason: /link-local$/, local: false },
  { url: 'http://[fe80::1]', reason: /^fe80::1 is link-local$/, local: false },
  { url: 'http://[fc00::1]', reason: /unique-local$/, local: false },
  { url: 'http://[fd12:3456::1]', reason: /unique-local$/, local: false },
  { url: 'http://[fec0::1]', reason: /site-local/, local: false },
  { url: 'http://224.0.0.1', reason: /multicast$/, local: false },
  { url: 'http://[ff02::1]', reason: /multicast$/, local: false },
  { url: 'http://255.255.255.255', reason: /broadcast$/, local: false },
  { url: 'http://192.0.0.1', reason: /reserved$/, local: false },
  { url: 'http://192.0.2.1', reason: /reserved$/, local: false },
  { url: 'http://198.51.100.1', reason: /reserved$/, local: false },
  { url: 'http://203.0.113.1', reason: /reserved$/, local: false },
  { url: 'http://198.18.0.1', reason: /reserved$/, local: false },
  { url: 'http://240.0.0.1', reason: /reserved$/, local: false },
  { url: 'http://[2001:db8::1]', reason: /reserved$/, local: false },
  { url: 'http://[100::1]', reason: /discard-only/, local: false },
  { url: 'http://[4000::1]', reason: /reserved$/, local: false },
]

