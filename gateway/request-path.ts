/**
 * The request path as URL parsers see it, before routing.
 *
 * uWS hands over the request target as sent. A router that matched `/t/public/../admin` against
 * `/public/*` would let a request reach the unauthenticated script while the script (and any URL
 * parser after it) sees `/admin`: the authSecret route on `/admin` bypassed. So dot segments are
 * resolved first, the way the WHATWG URL parser resolves them for http(s) URLs (and so the way
 * the script's `new URL(request.url)` will): `\` is a `/`, `.` and `%2e` are single-dot segments,
 * `..`, `.%2e`, `%2e.` and `%2e%2e` (any case) remove the segment before them, and nothing climbs
 * above the root. Other percent-escapes are left as they are, as the URL parser leaves them.
 *
 * @example
 * normalizePath('/t/public/../admin')   // '/t/admin'
 * normalizePath('/t/public/%2e%2e\\admin') // '/t/admin'
 * normalizePath('/a/b')                 // '/a/b' (the same string: nothing to resolve)
 */
export function normalizePath(path: string): string {
  // The common path has no dot, backslash or escape: returned as is, with no allocation.
  if (!NEEDS_WORK.test(path)) return path
  const input = path.replaceAll('\\', '/')
  const segments = input.split('/')
  // segments[0] is the empty string before the leading '/'.
  const out: string[] = []
  const last = segments.length - 1
  for (let i = 1; i <= last; i++) {
    const segment = segments[i] as string
    if (isDoubleDot(segment)) {
      out.pop()
      // `/a/..` resolves to `/` (a trailing slash), as the URL parser does.
      if (i === last) out.push('')
    } else if (isSingleDot(segment)) {
      if (i === last) out.push('')
    } else {
      out.push(segment)
    }
  }
  return `/${out.join('/')}`
}

const NEEDS_WORK = /[.\\]|%2e/i

function isSingleDot(segment: string): boolean {
  return segment === '.' || (segment.length === 3 && segment.toLowerCase() === '%2e')
}

function isDoubleDot(segment: string): boolean {
  if (segment === '..') return true
  const lower = segment.length === 4 || segment.length === 6 ? segment.toLowerCase() : ''
  return lower === '.%2e' || lower === '%2e.' || lower === '%2e%2e'
}
