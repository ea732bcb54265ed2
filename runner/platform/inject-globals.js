// esbuild `inject`: bundled packages (whatwg-url, @noble) that name TextEncoder or TextDecoder get
// the platform's classes, whatever tenant code later does to the global object.
export { TextDecoder, TextEncoder } from './encoding.js'
