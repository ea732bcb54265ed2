// esbuild `inject`: bundled packages (whatwg-url, @noble) that name TextEncoder or TextDecoder get
// the platform's classes, whatever tenant code later does to the global object.
export { TextDecoder, TextEncoder } from './encoding.js'
// web-streams-polyfill detaches a transferred ArrayBuffer with structuredClone(buffer, { transfer })
// when there is no ArrayBuffer.prototype.transfer; the platform's structuredClone has no transfer,
// so bundled packages get the polyfill's own fallback instead: the same buffer, not detached.
export function structuredClone(value) {
  return value
}
