import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { FileLock } from '../../runner/index.js'
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
 *
 * PGlite runs in a worker thread of its own: its queries are synchronous WebAssembly (a batch of
 * execution records takes tens of milliseconds), which on the main thread would stall every
 * request the gateway is serving meanwhile. Should that thread die, the process ends, as it
 * would have with PGlite on the main thread: a database that is gone is not served around.
 */
export class EmbeddedPostgres {
  readonly #dataDir: string
  readonly #host: string
  readonly #lockFile: string
  #lock: FileLock | null = null
  #thread: Worker | null = null
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
    await this.#takeLock()
    const thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        dataDir: path.join(this.#dataDir, 'pgdata'),
        host: this.#host,
        pglite: import.meta.resolve('@electric-sql/pglite'),
        socket: import.meta.resolve('@electric-sql/pglite-socket'),
      },
    })
    this.#thread = thread
    let port: number
    try {
      port = await new Promise<number>((resolve, reject) => {
        thread.once('message', (message: ThreadMessage) => {
          if (message.type === 'listening') resolve(message.port)
          else reject(new Error(message.type === 'failed' ? message.message : `unexpected ${message.type}`))
        })
        thread.once('error', reject)
        thread.once('exit', (code) => reject(new Error(`the database thread exited with ${code}`)))
      })
    } catch (error) {
      await this.stop()
      throw new DatabaseError(`the embedded database under ${this.#dataDir} did not start`, { cause: error })
    }
    thread.removeAllListeners()
    thread.on('error', (error) => this.#died(error))
    thread.on('exit', (code) => this.#died(new Error(`exit code ${code}`)))
    this.#url = `postgres://postgres@${this.#host}:${port}/postgres`
    return this.#url
  }

  async stop(): Promise<void> {
    const thread = this.#thread
    this.#thread = null
    this.#url = null
    // A thread that ended already (it failed to start) has threadId -1 and emits no more 'exit'.
    if (thread !== null && thread.threadId !== -1) {
      thread.removeAllListeners()
      const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()))
      thread.once('error', () => undefined) // it exits next; the exit is what we wait for
      thread.postMessage({ type: 'stop' })
      // PGlite writes its files out on close; one that hangs must not hold the process.
      const timer = setTimeout(() => void thread.terminate(), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    }
    this.#lock?.release()
    this.#lock = null
  }

  #died(cause: Error): void {
    if (this.#thread === null) return
    this.#thread = null
    this.#url = null
    process.nextTick(() => {
      throw new DatabaseError(`the embedded database thread ended unexpectedly (${cause.message})`, { cause })
    })
  }

  /**
   * One process per data folder: PGlite files opened twice get corrupted. The lock is the
   * kernel's (FileLock), so it dies with its process: a restart right after kill -9 starts (it
   * waits a moment for the kernel to finish tearing the killed holder down).
   */
  async #takeLock(): Promise<void> {
    if (this.#lock !== null) return
    const lock = await FileLock.acquireWithin(this.#lockFile, LOCK_WAIT_MS)
    if (lock === null) {
      const pid = FileLock.holder(this.#lockFile)
      throw new DatabaseError(`the data folder ${this.#dataDir} is in use by ${pid === null ? 'another process' : `process ${pid}`}`)
    }
    this.#lock = lock
  }
}

/** How long a start waits for the data folder's lock to be let go. */
const LOCK_WAIT_MS = 2_000

/** How long the database thread may take to close PGlite before it is terminated. */
const STOP_TIMEOUT_MS = 10_000

type ThreadMessage = { type: 'listening'; port: number } | { type: 'failed'; message: string } | { type: 'stopped' }

/**
 * The database thread: plain JavaScript (it runs the same whether isogate runs built or from its
 * TypeScript sources), given its packages as resolved URLs so the working directory does not
 * matter. It closes the socket server and then PGlite, which writes its files out, on 'stop'.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
;(async () => {
  const { PGlite } = await import(workerData.pglite)
  const { PGLiteSocketServer } = await import(workerData.socket)
  let db = null
  let server = null
  const stop = async () => {
    await server?.stop()
    await db?.close()
    parentPort.close()
  }
  parentPort.on('message', (message) => {
    if (message.type === 'stop') stop().catch(() => process.exit(1))
  })
  try {
    db = await PGlite.create({ dataDir: workerData.dataDir })
    server = new PGLiteSocketServer({ db, host: workerData.host, port: 0, maxConnections: 1 })
    await server.start()
    parentPort.postMessage({ type: 'listening', port: Number(server.getServerConn().split(':').pop()) })
  } catch (error) {
    parentPort.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
    await stop().catch(() => undefined)
  }
})()
`
