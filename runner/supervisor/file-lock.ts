import { spawnSync } from 'node:child_process'
import { closeSync, fstatSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'

/**
 * An exclusive lock on a file, held by this process and released by the kernel when it dies,
 * however it dies (kill -9 included): a restart right after a crash finds the lock free, and a
 * pid file's usual failure (the pid reused, or a zombie still answering `kill(pid, 0)`) cannot
 * keep a folder locked.
 *
 * Node has no flock(2). The file is opened here and its descriptor handed to a short-lived child
 * (`flock(1)` from util-linux, else perl's flock, which macOS ships) that takes the lock on it.
 * A flock lock belongs to the open file description, which the child shares with this process:
 * when the child exits the lock stays, held by this process's descriptor, until it is closed or
 * the process ends. Node opens files close-on-exec, so the runner processes the gateway forks
 * never inherit it.
 *
 * @example
 * const lock = FileLock.acquire('/var/lib/isogate/isogate.pid')
 * if (lock === null) throw new Error(`in use by process ${FileLock.holder('/var/lib/isogate/isogate.pid')}`)
 * lock.release()
 */
export class FileLock {
  #path: string
  #fd: number | null

  private constructor(path: string, fd: number) {
    this.#path = path
    this.#fd = fd
  }

  get path(): string {
    return this.#path
  }

  /** The locked file is now at `path` (its folder was renamed): the lock goes with the file. */
  movedTo(path: string): void {
    this.#path = path
  }

  /**
   * Takes the lock without waiting, writing this process's pid into the file; null when another
   * process holds it. Throws when no flock tool is there to take it.
   */
  static acquire(path: string): FileLock | null {
    // The holder may unlink the file as it releases it: a lock taken on an unlinked file locks
    // nothing, so check the path still names the locked file, and try again when it does not.
    for (let attempt = 0; attempt < 5; attempt++) {
      const fd = openSync(path, 'a+', 0o600)
      let locked: boolean
      try {
        locked = lockDescriptor(fd)
      } catch (error) {
        closeSync(fd)
        throw error
      }
      if (!locked) {
        closeSync(fd)
        return null
      }
      if (sameFile(fd, path)) {
        writeFileSync(path, String(process.pid))
        return new FileLock(path, fd)
      }
      closeSync(fd)
    }
    return null
  }

  /**
   * `acquire`, trying again every 25 ms for up to `waitMs` while another process holds the lock:
   * a holder that was just killed lets go only once the kernel has torn it down, which takes a
   * while for a process with a large heap.
   */
  static async acquireWithin(path: string, waitMs: number): Promise<FileLock | null> {
    const deadline = performance.now() + waitMs
    for (;;) {
      const lock = FileLock.acquire(path)
      if (lock !== null || performance.now() >= deadline) return lock
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  /** The pid written into a lock file, for messages; null when unreadable. */
  static holder(path: string): number | null {
    try {
      const pid = Number(readFileSync(path, 'utf8'))
      return Number.isInteger(pid) && pid > 0 ? pid : null
    } catch {
      // Gone or unreadable: nobody to name.
      return null
    }
  }

  get held(): boolean {
    return this.#fd !== null
  }

  /** Removes the file and lets the lock go (the kernel would at exit; this is for a clean stop). */
  release(): void {
    if (this.#fd === null) return
    // Unlink while still holding it, so nobody can lock the old file after we let go (see acquire).
    try {
      unlinkSync(this.path)
    } catch {
      // Already removed (its folder deleted): the lock still goes with the descriptor.
    }
    closeSync(this.#fd)
    this.#fd = null
  }
}

/** Exit code of the trampolines when the lock is held elsewhere. */
const HELD = 75

const TRAMPOLINES: Array<[string, string[]]> = [
  ['flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(HELD), '3']],
  ['perl', ['-MFcntl=:flock', '-e', `open(my $f, "+<&=3") or exit 2; flock($f, LOCK_EX | LOCK_NB) or exit ${HELD}`]],
]

function lockDescriptor(fd: number): boolean {
  for (const [command, args] of TRAMPOLINES) {
    const child = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe', fd], timeout: 5000 })
    if ((child.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') continue
    if (child.status === 0) return true
    if (child.status === HELD) return false
    throw new Error(`${command} could not lock the file (${child.error?.message ?? `exit ${child.status}: ${child.stderr?.toString().trim()}`})`)
  }
  throw new Error('neither flock(1) nor perl is installed: the file cannot be locked')
}

function sameFile(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd)
    const named = statSync(path)
    return open.ino === named.ino && open.dev === named.dev
  } catch {
    // The path is gone: the lock is on an unlinked file.
    return false
  }
}
