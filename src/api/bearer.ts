/**
 * The token of `Authorization: Bearer <token>`, or undefined. The scheme is case-insensitive
 * (RFC 9110, section 11.1: `bearer`, `BEARER` and `Bearer` are the same scheme).
 */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}
