import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { DatabaseError } from '../errors.js'

export interface EmbeddedPostgresOptions {
  /** Folder that holds the database files; created when missing. */
  dataDir: string
  /** Loopback address the wire-protocol server listens on. */
  host?: string
}

/**
 * PGlite (Postgres compiled to WebAssembly) persisted on disk, served on a loopback port by
 * pglite-socket so every part of isogate uses the same `postgres` client as with a server.
 * PGlite is a single backend: the socket server takes one connection at a time, so two
 * transactions can never interleave; the client must use `max: 1`.
 */
export class EmbeddedPostgres {
  readonly #dataDir: string
  readonly #host: string
  readonly #lockFile: string
  #db: PGlite | null = null
  #server: PGLiteSocketServer | null = null
  #url: string | null = null

  constructor(options: EmbeddedPostgresOptions) {
    if (typeof options.dataDir !== 'string' || options.dataDir === '') throw new TypeError('options.dataDir must be a non-empty string')
    this.#dataDir = path.resolve(options.dataDir)
    this.#host = options.host ?? '127.0.0.1'
    this.#lockFile = path.join(this.#dataDir, 'isogate.pid')
  }

  get url(): string {
    if (this.#url === null) throw new DatabaseError('the embedded database is not started')
    return this.#url
  }

  async start(): Promise<string> {
    mkdirSync(this.#dataDir, { recursive: true })
    this.#lock()
    try {
      this.#db = await PGlite.create({ dataDir: path.join(this.#dataDir, 'pgdata') })
      this.#server = new PGLiteSocketServer({ db: this.#db, host: this.#host, port: 0, maxConnections: 1 })
      await this.#server.start()
    } catch (error) {
      await this.stop()
      throw new DatabaseError(`the embedded database under ${this.#dataDir} did not start`, { cause: error })
    }
    const port = Number(this.#server.getServerConn().split(':').pop())
    this.#url = `postgres://postgres@${this.#host}:${port}/postgres`
    return this.#url
  }

  async stop(): Promise<void> {
    await this.#server?.stop()
    this.#server = null
    await this.#db?.close()
    this.#db = null
    this.#url = null
    rmSync(this.#lockFile, { force: true })
  }

  /** One process per data folder: PGlite files opened twice get corrupted. */
  #lock(): void {
    try {
      const pid = Number(readFileSync(this.#lockFile, 'utf8'))
      if (pid !== process.pid && isAlive(pid)) {
        throw new DatabaseError(`the data folder ${this.#dataDir} is in use by process ${pid}`)
      }
    } catch (error) {
      if (error instanceof DatabaseError) throw error
      // No lock file (ENOENT) or an unreadable one: nobody holds the folder.
    }
    writeFileSync(this.#lockFile, String(process.pid))
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
