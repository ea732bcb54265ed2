import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The in-isolate platform: the core every context runs, and the chunks it loads on first use. */
export interface PlatformSource {
  readonly source: string
  /** Chunk name -> source (see runner/platform-build.mjs). */
  readonly chunks: Readonly<Record<string, string>>
}

/**
 * The in-isolate platform, bundled by `npm run build:platform` (esbuild) from runner/platform/
 * into dist/platform/. Read once per runner and handed to its workers.
 */
export function readPlatformSource(): PlatformSource {
  const here = fileURLToPath(new URL('.', import.meta.url))
  const root = here.replace(/\/dist\/runner\/process\/$/, '/').replace(/\/runner\/process\/$/, '/')
  const dir = `${root}dist/platform`
  try {
    const chunks: Record<string, string> = {}
    for (const file of readdirSync(`${dir}/chunks`).filter((name) => name.endsWith('.js')).sort()) {
      chunks[file.slice(0, -'.js'.length)] = readFileSync(`${dir}/chunks/${file}`, 'utf8')
    }
    return { source: readFileSync(`${dir}/platform.js`, 'utf8'), chunks }
  } catch (error) {
    throw new Error(`the isolate platform bundle in ${dir} is missing: run \`npm run build\``, { cause: error })
  }
}

/** A runner module relative to this one (name may climb folders): .ts under a TypeScript loader (tests), .js when built. */
export function siblingModule(name: string, base: string): URL {
  const extension = base.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./${name}${extension}`, base)
}
