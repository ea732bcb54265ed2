// Bundles runner/platform/ (the JavaScript that runs inside every isolate) into
// dist/platform/platform.js with esbuild. The bundle is one strict-mode script whose completion
// value is the platform's `boot` function: the host gets it from `script.run(context)` and nothing
// is left on the global object.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

await build({
  absWorkingDir: root,
  entryPoints: ['runner/platform/index.js'],
  outfile: 'dist/platform/platform.js',
  bundle: true,
  format: 'iife',
  globalName: 'isogatePlatform',
  // Strict mode everywhere: a tenant's Error.prepareStackTrace gets no function or receiver of a
  // platform frame from CallSite.getFunction()/getThis().
  banner: { js: '(() => { "use strict";' },
  footer: { js: 'return isogatePlatform.boot })()' },
  platform: 'neutral',
  mainFields: ['main', 'module'],
  target: 'es2022',
  alias: { tr46: './runner/platform/idna.js' },
  inject: ['runner/platform/inject-globals.js'],
  minify: true,
  logLevel: 'warning',
})
