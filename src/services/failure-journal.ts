import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'

export interface FailureJournalOptions {
  /** Folder of the journal's segment files; created when missing. */
  dir: string
  logger: Logger
}

/** A journal file; deleted once every record in it is in the database. */
export interface JournalSegment {
  readonly file: string
  /** Records appended and not yet settled. */
  pending: number
  sealed: boolean
  fd: number
}

const PREFIX = 'failures-'

/**
 * A local append-only journal of failed runs' records, so a crash of the gateway right after it
 * answered a failing run cannot lose the run's record: the record is written to the journal (the
 * page cache: it survives the process, not the machine) before the answer leaves, and the next
 * start writes what the database did not get yet.
 *
 * Each append is one write, made at once. Gathered per turn (one write in a microtask), a turn's
 * answers left before their records were written: the data plane answers a run as soon as it
 * recorded it, a client that got the answer could have the gateway killed first, and one CI run
 * found 23 of 30 such records after the restart. A write costs a failed run a few microseconds.
 * Segments rotate at each batch the recorder writes; a sealed segment whose records are all in
 * the database is deleted. Files are named by process id, so a start replays only the files of
 * processes that are gone.
 */
export class FailureJournal {
  readonly #dir: string
  readonly #logger: Logger
  #active: JournalSegment | null = null
  #seq = 0
  #closed = false

  constructor(options: FailureJournalOptions) {
    if (typeof options.dir !== 'string' || options.dir === '') throw new TypeError('options.dir must be a non-empty string')
    this.#dir = options.dir
    this.#logger = options.logger
    mkdirSync(this.#dir, { recursive: true })
  }

  /** Appends one record's JSON text (one line, no newline in it); answers its segment. */
  append(text: string): JournalSegment {
    if (this.#closed) throw new Error('the failure journal is closed')
    if (this.#active === null) {
      const file = path.join(this.#dir, `${PREFIX}${process.pid}-${Date.now()}-${this.#seq++}.jsonl`)
      this.#active = { file, pending: 0, sealed: false, fd: openSync(file, 'a') }
    }
    this.#active.pending++
    this.#write(this.#active, `${text}\n`)
    return this.#active
  }

  /** Records of `segment` are in the database (or given up on): a sealed, settled segment goes. */
  settle(segment: JournalSegment, count: number): void {
    segment.pending -= count
    if (segment.sealed && segment.pending <= 0) this.#remove(segment)
  }

  /** Starts a new segment with the next append; the current one goes once settled. */
  rotate(): void {
    const segment = this.#active
    if (segment === null) return
    this.#active = null
    segment.sealed = true
    if (segment.pending <= 0) this.#remove(segment)
  }

  /** Closes the files; segments with unsettled records stay for the next start. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    const segment = this.#active
    this.#active = null
    if (segment !== null) {
      segment.sealed = true
      if (segment.pending <= 0) this.#remove(segment)
      else closeSync(segment.fd)
    }
  }

  #write(segment: JournalSegment, text: string): void {
    try {
      writeSync(segment.fd, text)
    } catch (error) {
      // A full or failing disk: the records are still in the failure buffer, only their crash
      // safety is gone. Said loudly; the run path must not throw for it.
      this.#logger.error({ err: error, file: segment.file }, 'could not write the failure journal')
    }
  }

  #remove(segment: JournalSegment): void {
    if (segment.fd !== -1) closeSync(segment.fd)
    segment.fd = -1
    try {
      unlinkSync(segment.file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger.warn({ err: error, file: segment.file }, 'could not delete a settled journal segment')
    }
  }

  /** Deletes a segment left by a gone process once its records are written. */
  static remove(file: string): void {
    unlinkSync(file)
  }

  /**
   * Records in segments left by processes that are gone (crashed, killed), as JSON texts, with
   * the files they came from. A line cut short by the crash is skipped.
   */
  static leftovers(dir: string): { files: string[]; rows: string[] } {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { files: [], rows: [] }
      throw error
    }
    const files: string[] = []
    const rows: string[] = []
    for (const name of names.sort()) {
      if (!name.startsWith(PREFIX) || !name.endsWith('.jsonl')) continue
      const pid = Number(name.slice(PREFIX.length).split('-')[0])
      if (pid !== process.pid && isAlive(pid)) continue
      const file = path.join(dir, name)
      files.push(file)
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line === '') continue
        try {
          JSON.parse(line)
          rows.push(line)
        } catch {
          // The last line of a segment the crash cut short: its record was never complete.
        }
      }
    }
    return { files, rows }
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
