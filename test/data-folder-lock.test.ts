import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { Database } from '../src/db/index.js'
import { FileLock } from '../runner/index.js'
import { RunnerSocketFolder } from '../runner/supervisor/socket-folder.js'
import { nodeArgs, ROOT } from './helpers/paths.js'
import { tempFolder } from './helpers/temp.js'

/** Starts the lock-holder fixture; resolves once it holds its lock. */
async function holder(t: Test, mode: 'database' | 'file', target: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs('test/fixtures/lock-holder.ts'), mode, target], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const lines = createInterface({ input: child.stdout! })
  await new Promise<void>((resolve, reject) => {
    lines.once('line', () => resolve())
    child.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)))
  })
  return child
}

/** A plain flock(1) process holding `file`: another process's kernel lock, cheap to start. */
async function flockHolder(t: Test, file: string): Promise<ChildProcess> {
  // --close: only flock itself holds the lock, so its reaped exit means the lock is free (a sleep
  // that inherited it could still be dying after flock's exit). Its own process group, so a kill
  // ends the sleep with it.
  const child = spawn('flock', ['--exclusive', '--close', file, 'sh', '-c', 'echo held; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL')
  })
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve())
    child.once('exit', (code) => reject(new Error(`flock exited with ${code}`)))
  })
  return child
}

/** kill -9 of the child, and of its process group when it leads one. */
function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(-(child.pid as number), 'SIGKILL')
  } catch {
    // Not a group leader: the child alone.
    child.kill('SIGKILL')
  }
  return exited
}

t.test('a data folder held by a live process is refused; a restart 100 ms after its kill -9 starts', async (t) => {
  const dataDir = tempFolder(t, 'isogate-lock-')
  const child = await holder(t, 'database', dataDir)
  await t.rejects(Database.open({ dataDir }), { code: 'DATABASE_ERROR', message: new RegExp(`in use by process ${child.pid}`) })
  const exited = killed(child)
  // Restarted as a supervisor would, right away: the killed process may not even be reaped yet.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const db = await Database.open({ dataDir })
  await exited
  t.teardown(() => db.close())
  t.ok(await db.ping(), 'the restarted database answers')
})

t.test('a pid file naming a live process does not hold a lock: only the kernel lock does', async (t) => {
  const file = path.join(tempFolder(t, 'isogate-lock-'), 'isogate.pid')
  // The parent of this test is alive, but it does not hold the lock.
  writeFileSync(file, String(process.ppid))
  const lock = FileLock.acquire(file)
  t.ok(lock?.held)
  lock?.release()
  t.notOk(existsSync(file), 'a clean release removes the lock file')
})

t.test('a file lock is exclusive between processes and free once its holder is killed', async (t) => {
  const file = path.join(tempFolder(t, 'isogate-lock-'), 'a.lock')
  writeFileSync(file, '12345')
  const child = await flockHolder(t, file)
  t.equal(FileLock.acquire(file), null, 'held by the child')
  t.equal(FileLock.holder(file), 12345, 'the file names the holder it was written by')
  await killed(child)
  const lock = FileLock.acquire(file)
  t.ok(lock?.held, 'taken after the holder died')
  t.equal(FileLock.holder(file), process.pid)
  lock?.release()
  t.notOk(existsSync(file))
})

t.test('runner socket folders of a killed gateway are swept when a new folder is made; live ones stay', async (t) => {
  const parent = tempFolder(t, 'isogate-sockets-')
  const gone = path.join(parent, 'isogate-runners-gone')
  const live = path.join(parent, 'isogate-runners-live')
  mkdirSync(gone)
  mkdirSync(live)
  writeFileSync(path.join(gone, '0.sock'), '')
  const dead = await flockHolder(t, path.join(gone, 'owner.lock'))
  await flockHolder(t, path.join(live, 'owner.lock'))
  await killed(dead)

  const folder = RunnerSocketFolder.create(parent)
  t.equal(folder.swept, 1)
  t.notOk(existsSync(gone), "the killed gateway's folder is gone")
  t.ok(existsSync(live), "a live gateway's folder stays")
  t.ok(existsSync(folder.path))
  folder.remove()
  t.notOk(existsSync(folder.path))
})

t.test('two gateways making their runner socket folders at once never sweep each other\'s half-made one', async (t) => {
  const parent = tempFolder(t, 'isogate-sockets-')
  const churn = (): Promise<{ code: number | null; stderr: string }> => new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs('test/fixtures/socket-folder-churn.ts'), parent, '40'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('exit', (code) => resolve({ code, stderr }))
  })
  const results = await Promise.all([churn(), churn()])
  for (const [i, result] of results.entries()) t.equal(result.code, 0, `gateway ${i + 1} made and removed 40 folders: ${result.stderr.trim()}`)
})
