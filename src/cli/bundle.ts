import path from 'node:path'
import { build, context, type BuildContext, type BuildOptions, type Message } from 'esbuild'
import { CliError } from './errors.js'

/** A bundled module: the code with its source map inline (what the server splits off and keeps). */
export interface Bundle {
  /** The module with `//# sourceMappingURL=data:...` at its end. */
  code: string
  /** Bytes of the code without its map (what ISOGATE_LIMIT_BUNDLE_BYTES counts). */
  bytes: number
  warnings: string[]
}

/**
 * esbuild's options for a script: one ESM file, TypeScript and npm packages included and
 * tree-shaken, for a Workers-like runtime (the `workerd`, `worker` and `browser` export
 * conditions), with an inline source map whose paths are relative to the project root.
 */
export function bundleOptions(root: string, entry: string): BuildOptions {
  return {
    entryPoints: [path.resolve(root, entry)],
    absWorkingDir: root,
    // Not written: the name only places the map's `sources` relative to the project root.
    outfile: path.join(root, 'isogate-bundle.js'),
    write: false,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser', 'import'],
    target: 'es2022',
    treeShaking: true,
    sourcemap: 'inline',
    sourcesContent: true,
    legalComments: 'none',
    logLevel: 'silent',
    charset: 'utf8',
  }
}

/** Bundles the entry once. */
export async function bundle(root: string, entry: string): Promise<Bundle> {
  try {
    const result = await build(bundleOptions(root, entry))
    return bundleOf(result.outputFiles?.[0]?.text ?? '', result.warnings)
  } catch (error) {
    throw bundleError(error)
  }
}

/** An incremental bundler for `dev`: rebuilds reuse the previous work. */
export async function bundler(root: string, entry: string): Promise<{ rebuild(): Promise<Bundle>; dispose(): Promise<void> }> {
  const ctx: BuildContext = await context(bundleOptions(root, entry))
  return {
    async rebuild() {
      try {
        const result = await ctx.rebuild()
        return bundleOf(result.outputFiles?.[0]?.text ?? '', result.warnings)
      } catch (error) {
        throw bundleError(error)
      }
    },
    dispose: () => ctx.dispose(),
  }
}

function bundleOf(code: string, warnings: Message[]): Bundle {
  const mapAt = code.lastIndexOf('\n//# sourceMappingURL=')
  return { code, bytes: Buffer.byteLength(mapAt === -1 ? code : code.slice(0, mapAt)), warnings: warnings.map(formatMessage) }
}

function bundleError(error: unknown): CliError {
  const errors = (error as { errors?: Message[] }).errors
  if (!Array.isArray(errors) || errors.length === 0) return new CliError('BUNDLE_FAILED', (error as Error).message)
  return new CliError('BUNDLE_FAILED', errors.map(formatMessage).join('\n'), { details: { errors: errors.map((m) => ({ file: m.location?.file, line: m.location?.line, column: m.location?.column === undefined ? undefined : m.location.column + 1, message: m.text })) } })
}

function formatMessage(message: Message): string {
  const at = message.location === null ? '' : `${message.location.file}:${message.location.line}:${message.location.column + 1}: `
  return `${at}${message.text}`
}
