// tr46 ships no types; the one function runner/idna.ts uses.
declare module 'tr46' {
  export interface ToASCIIOptions {
    checkHyphens?: boolean
    checkBidi?: boolean
    checkJoiners?: boolean
    useSTD3ASCIIRules?: boolean
    transitionalProcessing?: boolean
    verifyDNSLength?: boolean
    ignoreInvalidPunycode?: boolean
  }
  export function toASCII(domain: string, options?: ToASCIIOptions): string | null
  const tr46: { toASCII: typeof toASCII }
  export default tr46
}
