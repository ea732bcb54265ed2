import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * Whether this run loads the tests' build in dist/test (what `npm test` runs: plain Node, no
 * loader) rather than their TypeScript sources under tsx (`npx tap test/x.test.ts` while working).
 */
export const BUILT = import.meta.url.endsWith('.js')

/** The checkout's root folder, either way. */
export const ROOT = fileURLToPath(new URL(BUILT ? '../../../' : '../../', import.meta.url))

/** A file of the checkout that is not a module (README.md, a certificate, an example's source), by its path from the root. */
export function rootPath(relative: string): string {
  return path.join(ROOT, relative)
}

/**
 * A TypeScript module of the checkout (`test/fixtures/host-apis.ts`) as this run loads it: the
 * source under tsx, its build in dist/ otherwise.
 */
export function modulePath(relative: string): string {
  return BUILT ? path.join(ROOT, 'dist', relative.replace(/\.ts$/, '.js')) : path.join(ROOT, relative)
}

/** `modulePath` as a file URL (what IsolatePool's hostApiModules take). */
export function moduleUrl(relative: string): string {
  return pathToFileURL(modulePath(relative)).href
}

/** Node arguments that start a module of the checkout the way this run loads code (this process's own flags, then the module). */
export function nodeArgs(relative: string): string[] {
  return [...process.execArgv, modulePath(relative)]
}

/** Node arguments that start a module of the checkout as a user would (`npm start`, `npm run bench`): no test flags, a loader only for sources. */
export function userNodeArgs(relative: string): string[] {
  return ['--no-node-snapshot', ...(BUILT ? [] : ['--import', 'tsx']), modulePath(relative)]
}
