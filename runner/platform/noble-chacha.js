// ChaCha20 from the audited @noble/ciphers for the isolate's CSPRNG (entropy.js). Imported, not
// required, so esbuild keeps only it: no Poly1305, XChaCha or AEAD source in every isolate.
export { chacha20 } from '@noble/ciphers/chacha.js'
