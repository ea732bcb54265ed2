// `node:buffer`: Buffer from the `buffer` package (feross/buffer, Node's Buffer API on
// Uint8Array, what bundlers use for browsers). A chunk, loaded when a script imports it.
import { Buffer, INSPECT_MAX_BYTES, SlowBuffer, kMaxLength } from 'buffer'
import { atob, btoa } from './encoding.js'
import { blob } from './lazy.js'

export const constants = Object.freeze({ MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: 2 ** 29 - 24 })
export { Buffer, INSPECT_MAX_BYTES, SlowBuffer, atob, btoa, kMaxLength }
export const Blob = blob().Blob
export const File = blob().File
export default { Buffer, INSPECT_MAX_BYTES, SlowBuffer, kMaxLength, constants, atob, btoa, Blob, File }
