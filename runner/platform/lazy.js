// Modules that most runs never touch are initialised on first use, not in every new context:
// `require` stays lazy in the esbuild bundle (an ESM module that is required is wrapped in an init
// function). Eager modules must reach these only through the functions below, never by `import`,
// or esbuild initialises them with the importer. Together they cost ~0.3 ms per context.

export const domException = () => require('./dom-exception.js').DOMException
export const abort = () => require('./abort.js')
export const events = () => require('./events.js')
export const webCrypto = () => require('./crypto.js')
export const structuredCloneModule = () => require('./structured-clone.js')

/** Prototypes of platform classes, whose instances structuredClone refuses (DataCloneError). */
export const platformPrototypes = new Set()
export function brand(...classes) {
  for (const Class of classes) platformPrototypes.add(Class.prototype)
}
