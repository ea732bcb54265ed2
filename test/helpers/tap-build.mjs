// Run by `npm test` before tap: tap loads its plugins from a build inside node_modules, made at
// install time with tap's default plugins. This project's tap config swaps the TypeScript plugin
// (ts-node) for tsx; tap notices the difference only after it has started the run with the old
// build, so a fresh install's first `npm test` would load both. Rebuild first when they differ.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { TapConfig } from '@tapjs/config'
import { signature } from '@tapjs/test'

const config = await TapConfig.load()
if (config.pluginSignature !== signature.trim()) {
  const tap = createRequire(import.meta.url).resolve('tap/package.json').replace(/package\.json$/, 'dist/esm/run.mjs')
  execFileSync(process.execPath, [tap, 'build'], { stdio: 'inherit' })
}
