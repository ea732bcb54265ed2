/**
 * Host patterns of a tenant's egress allowlist: an exact host (`api.example.com`, `127.0.0.2`,
 * `[::1]`) or `*.` and a domain for any name below that domain (not the domain itself).
 * ISOGATE_EGRESS_ALLOWED_HOSTS checks their spelling at boot (config/schema.ts); a pattern that
 * is not well formed here simply matches nothing, so a mistake refuses rather than allows.
 */

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
