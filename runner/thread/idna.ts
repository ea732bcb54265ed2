import { createRequire } from 'node:module'
import type tr46Module from 'tr46'

const require = createRequire(import.meta.url)
/** tr46 and its tables, loaded by the first domain that needs them (~20 ms of CPU in every worker thread's start). */
let tr46: typeof tr46Module | undefined

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
  tr46 ??= require('tr46') as typeof tr46Module
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
