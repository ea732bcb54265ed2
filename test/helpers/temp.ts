import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'

/**
 * A new folder in the system's temporary folder, named `prefix` and a random suffix, removed when
 * `t` ends. tap runs a test's teardowns last registered first, so what the test starts in the
 * folder afterwards (a database, a gateway) and closes in a teardown of its own is closed before
 * the folder goes. The suite left about 1.5 GB of such folders in /tmp a run (an embedded database
 * is 20-150 MB); a CI run failed for want of space once 45 GB had piled up.
 */
export function tempFolder(t: Test, prefix: string): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), prefix))
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  return folder
}
