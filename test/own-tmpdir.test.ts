import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { SHARED_TMPDIR_VARIABLE } from '../config/test.js'
import { modulePath } from './helpers/paths.js'

/** Node arguments of a process started as a test process starts, with only own-tmpdir.ts loaded first. */
const withOwnTmpdir = (script: string): string[] => [...process.execArgv, '--import', pathToFileURL(modulePath('test/helpers/own-tmpdir.ts')).href, '-e', script]
/** Makes a data folder with a file in its temporary folder, and prints the temporary folder. */
const MAKES_FILES = `const fs = require('node:fs'), os = require('node:os'), path = require('node:path')
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'data-'))
fs.writeFileSync(path.join(data, 'file'), 'x'.repeat(1 << 20))
console.log(os.tmpdir())`

const ownFolders = (shared: string): string[] => readdirSync(shared).filter((name) => name.startsWith('isogate-test-process-'))

t.test('this test process keeps its temporary files in a folder of its own, inside the shared one', async (t) => {
  const shared = process.env[SHARED_TMPDIR_VARIABLE] as string
  t.type(shared, 'string')
  t.equal(path.dirname(os.tmpdir()), shared)
  t.match(path.basename(os.tmpdir()), new RegExp(`^isogate-test-process-${process.pid}-`))
})

t.test('a test process\'s folder is gone when it exits; one killed before it could exit is removed by the next test process', async (t) => {
  // A shared folder of this test's own, so other test processes running now do not count.
  const shared = mkdtempSync(path.join(os.tmpdir(), 'shared-'))
  const env = { ...process.env, [SHARED_TMPDIR_VARIABLE]: shared }

  const done = spawnSync(process.execPath, withOwnTmpdir(MAKES_FILES), { env, encoding: 'utf8', timeout: 30_000 })
  t.equal(done.status, 0, done.stderr)
  const itsFolder = done.stdout.trim()
  t.equal(path.dirname(itsFolder), shared, 'it had a folder in the shared one')
  t.notOk(existsSync(itsFolder), 'gone with its data folder once it exited')
  t.same(ownFolders(shared), [])

  // Killed: no exit handler runs.
  const killed = spawn(process.execPath, withOwnTmpdir(`${MAKES_FILES}; setInterval(() => {}, 1000)`), { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const killedFolder = await new Promise<string>((resolve) => killed.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())))
  killed.kill('SIGKILL')
  await new Promise((resolve) => killed.once('exit', resolve))
  t.ok(existsSync(killedFolder), 'a killed process leaves its folder')

  const next = spawnSync(process.execPath, withOwnTmpdir(MAKES_FILES), { env, encoding: 'utf8', timeout: 30_000 })
  t.equal(next.status, 0, next.stderr)
  t.notOk(existsSync(killedFolder), 'the next test process removed it')
  t.same(ownFolders(shared), [], 'and left none of its own')
})
