// Modules that most runs never touch are chunks, loaded into a context on first use (chunks.js):
// core modules reach them only through the functions below, never by `import` (the build refuses).

import { loadChunk } from './chunks.js'

export const domException = () => loadChunk('dom-exception').DOMException
export const abort = () => loadChunk('abort')
export const events = () => loadChunk('events')
export const webCrypto = () => loadChunk('crypto')
export const structuredCloneModule = () => loadChunk('structured-clone')
export const blob = () => loadChunk('blob')
export const formData = () => loadChunk('form-data')
export const streams = () => loadChunk('streams')
export const compression = () => loadChunk('compression')
export const urlPattern = () => loadChunk('url-pattern')
export const extras = () => loadChunk('extras')

/** A chunk's exports when some code of this context loaded it already, else null (no load). */
export { loadedChunk } from './chunks.js'

/** Prototypes of platform classes, whose instances structuredClone refuses (DataCloneError). */
export const platformPrototypes = new Set()
export function brand(...classes) {
  for (const Class of classes) platformPrototypes.add(Class.prototype)
}
