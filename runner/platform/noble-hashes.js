// The digests crypto.subtle.digest offers, from the audited @noble/hashes. Imported, not required,
// so esbuild keeps only these (noble declares no side effects): no MD5 or RIPEMD-160 source in
// every isolate. Loaded on first use (crypto.js).
export { sha1 } from '@noble/hashes/legacy.js'
export { sha256, sha384, sha512 } from '@noble/hashes/sha2.js'
