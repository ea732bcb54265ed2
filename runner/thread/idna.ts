import tr46 from 'tr46'

/**
 * UTS #46 "domain to ASCII" as the WHATWG URL host parser runs it (beStrict false), for the
 * isolates: whatwg-url's call to tr46 (url-state-machine.js `domainToASCII`) with its options.
 * The IDNA mapping tables are ~230 KB of source, which every isolate would otherwise hold; here
 * they are loaded once per thread. Node's `url.domainToASCII` is not the same function: it runs
 * the whole host parser (it cuts `ü/.com` at the slash) and skips the Bidi rule.
 *
 * Answers the ASCII domain, or null when the domain is not valid. Never throws for a string.
 */
export function domainToASCII(domain: string): string | null {
  return tr46.toASCII(domain, {
    checkHyphens: false,
    checkBidi: true,
    checkJoiners: true,
    useSTD3ASCIIRules: false,
    transitionalProcessing: false,
    verifyDNSLength: false,
    ignoreInvalidPunycode: false,
  })
}
