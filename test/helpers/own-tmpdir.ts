/**
 * Part of every test process's start (test-process.ts): the process keeps its temporary files in
 * a folder of its own, removed when it exits. That is where `os.tmpdir()` points from here on
 * (TMPDIR, which the processes it starts inherit): the data folders of the test gateways
 * (config/test.ts testConfig), their runners' socket folders, whatever a test makes there.
 * Before, each test gateway's data folder (an embedded database, 20-40 MB) stayed behind: a run of
 * the suite left about 1.5 GB in /tmp, and this machine had 45 GB of them when a CI run failed
 * with ENOSPC.
 *
 * A process that did not get to exit (ended by tap's timeout) leaves its folder: the next test
 * process removes the folders of processes that are gone. The embedded database template that
 * the test processes of a run share (config/test.ts TEST_EMBEDDED_TEMPLATE) stays where it was,
 * in the folder named by SHARED_TMPDIR_VARIABLE.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SHARED_TMPDIR_VARIABLE } from '../../config/test.js'

const PREFIX = 'isogate-test-process-'

const shared = process.env[SHARED_TMPDIR_VARIABLE] ?? os.tmpdir()
process.env[SHARED_TMPDIR_VARIABLE] = shared

for (const name of readdirSync(shared)) {
  const pid = Number(/^isogate-test-process-(\d+)-/.exec(name)?.[1])
  if (Number.isInteger(pid) && !alive(pid)) rmSync(path.join(shared, name), { recursive: true, force: true })
}

const own = mkdtempSync(path.join(shared, `${PREFIX}${process.pid}-`))
process.env.TMPDIR = own
process.on('exit', () => rmSync(own, { recursive: true, force: true }))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
