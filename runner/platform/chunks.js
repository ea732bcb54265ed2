// The platform's chunks (see runner/platform-build.mjs): modules most scripts never use, loaded
// into a context on first use. `loadChunk` asks the host for the chunk's factory (a synchronous
// host call; the host runs the chunk's compiled script in this context) and calls it with the
// core's module namespaces, once per context.
import { coreModules } from 'isogate:core-modules'
import { hostChunk } from './runtime.js'

const loaded = Object.create(null)

export function loadChunk(name) {
  let exports = loaded[name]
  if (exports === undefined) {
    exports = hostChunk(name)(loadChunk, coreModules)
    loaded[name] = exports
  }
  return exports
}

/** The chunk's exports if it is loaded in this context, else null: `instanceof` checks need no load. */
export function loadedChunk(name) {
  return loaded[name] ?? null
}
