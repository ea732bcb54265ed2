/**
 * The module a runner process starts a thread from (a worker thread through piscina, or its hold
 * watcher): the thread's own module, or under `--import tsx` (on Node 20 tsx registers in the
 * main thread only) runner/thread/tsx-worker.mjs, which registers tsx in the thread and loads the
 * module named by `workerData.tsxWorkerModule`.
 */
export function threadEntry(moduleUrl: URL): URL {
  // `--import tsx`, or tsx's loader by its URL (the isogate CLI passes it so, to work from any folder).
  const isTsx = (value: string | undefined): boolean => value !== undefined && (value === 'tsx' || value.startsWith('tsx/') || /\/node_modules\/tsx\//.test(value))
  const underTsx = moduleUrl.pathname.endsWith('.ts') && process.execArgv.some((arg, i, all) => (arg.startsWith('--import=') && isTsx(arg.slice('--import='.length))) || (arg === '--import' && isTsx(all[i + 1])))
  return underTsx ? new URL('../thread/tsx-worker.mjs', import.meta.url) : moduleUrl
}
