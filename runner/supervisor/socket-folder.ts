import { mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FileLock } from './file-lock.js'

const PREFIX = 'isogate-runners-'
/** A folder being made: it takes PREFIX's name once its lock is held. */
const MAKING_PREFIX = 'isogate-runners.making-'
const OWNER = 'owner.lock'
/** A folder without an owner lock this old was left half-made (or by an older isogate). */
const UNOWNED_AFTER_MS = 60_000

/**
 * The folder of one gateway's runner sockets, in the temporary folder, entered only by this user
 * (a runner serves whoever connects first). The gateway holds a kernel lock on a file in it
 * (FileLock), so a folder whose lock is free belongs to a gateway that is gone (killed, say):
 * every new folder sweeps those away first, so kill -9 does not leave sockets piling up.
 *
 * @example
 * const folder = RunnerSocketFolder.create()
 * const socketPath = folder.socket('0.sock')
 * folder.remove()
 */
export class RunnerSocketFolder {
  readonly path: string
  readonly #lock: FileLock
  /** Folders of gone gateways removed when this one was made. */
  readonly swept: number

  private constructor(folder: string, lock: FileLock, swept: number) {
    this.path = folder
    this.#lock = lock
    this.swept = swept
  }

  static create(parent: string = os.tmpdir()): RunnerSocketFolder {
    const swept = sweep(parent)
    // Made under a name the sweep leaves alone and renamed once its lock is held: between the
    // lock file's creation and its lock, another gateway's sweep would find it free and take
    // the folder for a gone gateway's (it did, with two gateways starting at once).
    const making = mkdtempSync(path.join(parent, MAKING_PREFIX))
    const lock = FileLock.acquire(path.join(making, OWNER))
    if (lock === null) {
      rmSync(making, { recursive: true, force: true })
      throw new Error(`the new runner socket folder ${making} is locked by another process`)
    }
    const folder = path.join(parent, PREFIX + path.basename(making).slice(MAKING_PREFIX.length))
    renameSync(making, folder)
    lock.movedTo(path.join(folder, OWNER))
    return new RunnerSocketFolder(folder, lock, swept)
  }

  socket(name: string): string {
    return path.join(this.path, name)
  }

  remove(): void {
    this.#lock.release()
    rmSync(this.path, { recursive: true, force: true })
  }
}

/** Removes the runner socket folders whose gateway is gone; answers how many. */
function sweep(parent: string): number {
  let swept = 0
  for (const name of readdirSync(parent)) {
    const making = name.startsWith(MAKING_PREFIX)
    if (!making && !name.startsWith(PREFIX)) continue
    const folder = path.join(parent, name)
    try {
      // One being made is another gateway's until it is old enough to have been left half-made.
      if (making ? Date.now() - statSync(folder).mtimeMs <= UNOWNED_AFTER_MS : !isStale(folder)) continue
      rmSync(folder, { recursive: true, force: true })
      swept++
    } catch {
      // Another user's folder (not ours to enter), or another gateway sweeping it at this moment.
    }
  }
  return swept
}

function isStale(folder: string): boolean {
  const owner = path.join(folder, OWNER)
  let hasOwner = true
  try {
    statSync(owner)
  } catch {
    hasOwner = false
  }
  if (!hasOwner) return Date.now() - statSync(folder).mtimeMs > UNOWNED_AFTER_MS
  const lock = FileLock.acquire(owner)
  if (lock === null) return false
  lock.release()
  return true
}
