// Bundles runner/platform/ (the JavaScript that runs inside every isolate) with esbuild into
//
//   dist/platform/platform.js        the core, run in every new context
//   dist/platform/chunks/<name>.js   the chunks, each run in a context on its first use there
//
// The core is one strict-mode script whose completion value is the platform's `boot` function: the
// host gets it from `script.run(context)` and nothing is left on the global object.
//
// What most scripts never touch is a chunk (CHUNKS below): an isolate holds the source, functions
// and objects of a chunk only once something there used it (measured: ~75 KiB RSS less per warm
// tenant, bench/runner-bench.ts). Platform code reaches a chunk with `loadChunk(name)` (chunks.js),
// never by a static import from the core: the build refuses one. A chunk is a script whose
// completion value is a factory `(loadChunk, coreModules) => exports`. Inside a chunk, imports of
// core modules read the core's own module namespaces (live bindings, one instance per context),
// and imports of another chunk load that chunk.
import { build } from 'esbuild'
import { mkdir, rm } from 'node:fs/promises'
import { basename, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const platformDir = resolve(root, 'runner/platform')
const outDir = resolve(root, 'dist/platform')

/** The chunks, by entry module; a chunk's name is its file name without `.js`. */
const CHUNKS = [
  'abort.js',
  'blob.js',
  'compression.js',
  'crypto.js',
  'extras.js',
  'form-data.js',
  'node-assert.js',
  'node-buffer.js',
  'node-crypto.js',
  'node-events.js',
  'node-util.js',
  'streams.js',
  'subtle.js',
  'url-pattern.js',
  'dom-exception.js',
  'events.js',
  'noble-chacha.js',
  'noble-hashes.js',
  'structured-clone.js',
  'url-parser.js',
  'url-standard.js',
].map((file) => resolve(platformDir, file))
const chunkName = (file) => basename(file, '.js')
const CORE_MODULES = 'isogate:core-modules'

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'iife',
  platform: 'neutral',
  mainFields: ['main', 'module'],
  target: 'es2022',
  alias: { tr46: './runner/platform/idna.js' },
  inject: ['runner/platform/inject-globals.js'],
  minify: true,
  logLevel: 'warning',
  metafile: true,
}

/**
 * Resolves platform modules the way the split needs: in the core, a chunk's module is an error
 * and CORE_MODULES is the namespaces of `shared`; in a chunk, another chunk's module is
 * `loadChunk(name)` and a core module is its namespace from the core (recorded in `shared`).
 */
function split({ chunk, coreFiles, shared }) {
  return {
    name: 'isogate-split',
    setup(build) {
      build.onResolve({ filter: /^isogate:core-modules$/ }, () => ({ path: CORE_MODULES, namespace: 'isogate' }))
      build.onLoad({ filter: /.*/, namespace: 'isogate' }, () => {
        const names = [...shared].sort()
        const imports = names.map((file, i) => `import * as m${i} from ${JSON.stringify(resolve(platformDir, file))}`)
        const map = names.map((file, i) => `${JSON.stringify(file)}: m${i}`)
        return { contents: `${imports.join('\n')}\nexport const coreModules = Object.freeze({ __proto__: null, ${map.join(', ')} })\n`, loader: 'js', resolveDir: platformDir }
      })
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (args.namespace !== 'file' || !args.resolveDir.startsWith(platformDir)) return undefined
        const file = resolve(args.resolveDir, args.path)
        if (file === chunk) return undefined
        if (CHUNKS.includes(file)) {
          if (chunk === null) {
            return { errors: [{ text: `${relative(root, args.importer)} imports the chunk ${args.path}: load it with loadChunk('${chunkName(file)}') (chunks.js)` }] }
          }
          return { path: chunkName(file), namespace: 'isogate-chunk' }
        }
        if (chunk !== null && coreFiles.has(file)) {
          const name = relative(platformDir, file)
          shared.add(name)
          return { path: name, namespace: 'isogate-core' }
        }
        return undefined
      })
      build.onLoad({ filter: /.*/, namespace: 'isogate-chunk' }, (args) => ({ contents: `module.exports = __isogateLoad(${JSON.stringify(args.path)})`, loader: 'js' }))
      build.onLoad({ filter: /.*/, namespace: 'isogate-core' }, (args) => ({ contents: `module.exports = __isogateCore[${JSON.stringify(args.path)}]`, loader: 'js' }))
    },
  }
}

function buildCore(shared) {
  return build({
    ...common,
    entryPoints: ['runner/platform/index.js'],
    outfile: 'dist/platform/platform.js',
    globalName: 'isogatePlatform',
    // Strict mode everywhere: a tenant's Error.prepareStackTrace gets no function or receiver of a
    // platform frame from CallSite.getFunction()/getThis().
    banner: { js: '(() => { "use strict";' },
    footer: { js: 'return isogatePlatform.boot })()' },
    plugins: [split({ chunk: null, coreFiles: new Set(), shared })],
  })
}

function buildChunk(file, coreFiles, shared) {
  return build({
    ...common,
    entryPoints: [file],
    outfile: `dist/platform/chunks/${chunkName(file)}.js`,
    globalName: 'isogateChunk',
    banner: { js: '(function (__isogateLoad, __isogateCore) { "use strict";' },
    footer: { js: 'return isogateChunk })' },
    plugins: [split({ chunk: file, coreFiles, shared })],
  })
}

const INJECTED = resolve(root, common.inject[0])
const inputs = (result) => new Set(Object.keys(result.metafile.inputs).filter((input) => !input.includes(':')).map((input) => resolve(root, input)))

await rm(resolve(outDir, 'chunks'), { recursive: true, force: true })
await mkdir(resolve(outDir, 'chunks'), { recursive: true })
// Which core modules the chunks import is known once the chunks are built: the core is built
// first to learn its modules, then again with the namespaces the chunks need.
const shared = new Set()
const coreFiles = inputs(await buildCore(shared))
for (const file of CHUNKS) {
  const result = await buildChunk(file, coreFiles, shared)
  for (const input of inputs(result)) {
    if (coreFiles.has(input) && input !== INJECTED) throw new Error(`the chunk ${chunkName(file)} bundles ${relative(root, input)}, a core module, a second time`)
  }
}
await buildCore(shared)
