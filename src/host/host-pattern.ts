/**
 * Host patterns of a tenant's egress allowlist: an exact host (`api.example.com`, `127.0.0.2`,
 * `[::1]`) or `*.` and a domain for any name below that domain (not the domain itself).
 */
const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?'
const NAME = new RegExp(`^(\\*\\.)?${LABEL}(?:\\.${LABEL})*$`)
const BRACKETED_IPV6 = /^\[[0-9a-f:.]+\]$/

/**
 * Whether a string is a valid host pattern (lowercase, ASCII: write IDNs in punycode).
 *
 * @example
 * isHostPattern('*.example.com') // true
 * isHostPattern('exa mple.com')  // false
 */
export function isHostPattern(pattern: string): boolean {
  return typeof pattern === 'string' && pattern.length <= 253 && (NAME.test(pattern) || BRACKETED_IPV6.test(pattern))
}

/**
 * Whether a URL's hostname (as `URL.hostname` gives it: lowercase, punycode, IPv6 in brackets)
 * matches a pattern. A trailing dot on the hostname is ignored: `example.com.` is `example.com`.
 *
 * @example
 * hostMatches('*.example.com', 'a.b.example.com') // true
 * hostMatches('*.example.com', 'example.com')     // false
 */
export function hostMatches(pattern: string, hostname: string): boolean {
  const host = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname
  const wanted = pattern.toLowerCase()
  if (wanted.startsWith('*.')) return host.endsWith(wanted.slice(1)) && host.length > wanted.length - 1
  return host === wanted
}
