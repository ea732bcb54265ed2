import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The in-isolate platform, bundled by `npm run build:platform` (esbuild) from runner/platform/
 * into dist/platform/platform.js. Read once per runner and handed to its workers.
 */
export function readPlatformSource(): string {
  const here = fileURLToPath(new URL('.', import.meta.url))
  const root = here.replace(/\/dist\/runner\/$/, '/').replace(/\/runner\/$/, '/')
  const file = `${root}dist/platform/platform.js`
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new Error(`the isolate platform bundle ${file} is missing: run \`npm run build\``, { cause: error })
  }
}

/** The worker module next to this one: .ts under a TypeScript loader (tests), .js when built. */
export function siblingModule(name: string, base: string): URL {
  const extension = base.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./${name}${extension}`, base)
}
