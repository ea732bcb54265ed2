// Installed before anything else: whatwg-url builds a TextEncoder when its module loads.
import { TextDecoder, TextEncoder } from './encoding.js'

for (const [name, value] of [['TextEncoder', TextEncoder], ['TextDecoder', TextDecoder]]) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false })
}
