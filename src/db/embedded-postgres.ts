import { cpSync, existsSync, mkdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { FileLock } from '../../runner/index.js'
import { DatabaseError } from '../errors.js'

export interface EmbeddedPostgresOptions {
  /** Folder that holds the database files; created when missing. */
  dataDir: string
  /** Loopback address the wire-protocol server listens on. */
  host?: string
  /**
   * A PGlite data folder (`pgdata`) of a cleanly closed database, copied in when `dataDir` has no
   * database yet, instead of creating one: creating a cluster costs seconds of CPU in WebAssembly,
   * a copy a fraction of one. Absent or missing: a new database is created as usual.
   */
  template?: string | undefined
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
  readonly #template: string | undefined
  #lock: FileLock | null = null
  #thread: Worker | null = null
  #url: string | null = null
  /** Batches sent to the thread, by id, waiting for its answer. */
  readonly #batches = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
  #nextBatch = 0

  constructor(options: EmbeddedPostgresOptions) {
    if (typeof options.dataDir !== 'string' || options.dataDir === '') throw new TypeError('options.dataDir must be a non-empty string')
    this.#dataDir = path.resolve(options.dataDir)
    this.#host = options.host ?? '127.0.0.1'
    this.#lockFile = path.join(this.#dataDir, 'isogate.pid')
    this.#template = options.template
  }

  get url(): string {
    if (this.#url === null) throw new DatabaseError('the embedded database is not started')
    return this.#url
  }

  async start(): Promise<string> {
    mkdirSync(this.#dataDir, { recursive: true })
    await this.#takeLock()
    const pgdata = path.join(this.#dataDir, 'pgdata')
    if (this.#template !== undefined && !existsSync(pgdata) && existsSync(path.join(this.#template, 'PG_VERSION'))) cpSync(this.#template, pgdata, { recursive: true })
    if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
      try {
        await this.#createCluster(pgdata)
      } catch (error) {
        await this.stop() // lets go of the folder's lock
        throw error
      }
    }
    const thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        dataDir: pgdata,
        host: this.#host,
        pglite: import.meta.resolve('@electric-sql/pglite'),
        socket: import.meta.resolve('@electric-sql/pglite-socket'),
        wasmModule: await compiledPglite(),
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
    // Not removeAllListeners(): it also removes the hooks by which a Worker starts its message
    // port for a new 'message' listener, and batch answers would never arrive.
    thread.removeAllListeners('error')
    thread.removeAllListeners('exit')
    thread.on('message', (message: ThreadMessage) => this.#answered(message))
    thread.on('error', (error) => this.#died(error))
    thread.on('exit', (code) => this.#died(new Error(`exit code ${code}`)))
    this.#url = `postgres://postgres@${this.#host}:${port}/postgres`
    return this.#url
  }

  /**
   * Runs one statement with one text parameter (`$1`) as isogate_system, sent to the database
   * thread as one message and run there by PGlite directly: no postgres.js encoding, no socket,
   * no wire-protocol parsing on this side. The thread waits until no client transaction is open
   * and runs it alone, in one implicit transaction (all or nothing).
   */
  batch(statement: string, payload: string): Promise<void> {
    const thread = this.#thread
    if (thread === null) return Promise.reject(new DatabaseError('the embedded database is not started'))
    const id = this.#nextBatch++
    return new Promise((resolve, reject) => {
      this.#batches.set(id, { resolve, reject })
      thread.postMessage({ type: 'batch', id, statement, payload })
    })
  }

  #answered(message: ThreadMessage): void {
    if (message.type !== 'batch') return
    const waiting = this.#batches.get(message.id)
    this.#batches.delete(message.id)
    if (message.error === undefined) waiting?.resolve()
    // sqlState: the SQLSTATE, so a caller can tell a value the database refuses from an outage.
    else waiting?.reject(Object.assign(new DatabaseError(`the embedded database refused a batch: ${message.error}`), { sqlState: message.sqlState }))
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
    for (const waiting of this.#batches.values()) waiting.reject(new DatabaseError('the embedded database stopped'))
    this.#batches.clear()
  }

  /**
   * Creates a new database in a thread of its own that ends when it is done. Creating a cluster
   * (initdb) takes PGlite's WebAssembly memory to about 800 MiB, which a thread that went on
   * serving held until its garbage collector let go of that instance (an idle server: never);
   * opened fresh, the serving thread holds about a third of that.
   */
  async #createCluster(pgdata: string): Promise<void> {
    const thread = new Worker(CREATE_SOURCE, { eval: true, workerData: { dataDir: pgdata, pglite: import.meta.resolve('@electric-sql/pglite') } })
    let failure: string | null = 'it exited before it said'
    thread.on('message', (message: { type: 'created' } | { type: 'failed'; message: string }) => {
      failure = message.type === 'created' ? null : message.message
    })
    const code = await new Promise<number>((resolve) => {
      thread.once('error', (error) => {
        failure = error.message
      })
      thread.once('exit', resolve)
    })
    if (failure !== null || code !== 0) throw new DatabaseError(`the embedded database under ${this.#dataDir} did not start: it could not be created (${failure ?? `exit code ${code}`})`)
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

/** A compiled WebAssembly module (the project's TypeScript libraries declare no DOM, so no WebAssembly global). */
type WasmModule = object
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly
let pgliteModule: Promise<WasmModule | undefined> | null = null

/**
 * PGlite's WebAssembly, compiled once a process and handed to every database thread it starts
 * (a compiled module crosses to a worker thread as it is). A fresh compile costs a start ~0.1 s
 * of CPU, and V8 then optimises the hot functions again in the background: a process opening
 * the embedded database again (the test suite's processes, a restart in place) spent ~1.8 s of
 * CPU on an open and close with a compile of its own, ~0.8-0.9 s with the shared module.
 * Undefined when the file cannot be read or compiled: PGlite then loads it itself, and says what
 * is wrong; the next start tries again.
 */
function compiledPglite(): Promise<WasmModule | undefined> {
  pgliteModule ??= readFile(new URL('./pglite.wasm', import.meta.resolve('@electric-sql/pglite')))
    .then((bytes) => wasm.compile(bytes))
    .catch(() => {
      pgliteModule = null
      return undefined
    })
  return pgliteModule
}

/** How long a start waits for the data folder's lock to be let go. */
const LOCK_WAIT_MS = 2_000

/** How long the database thread may take to close PGlite before it is terminated. */
const STOP_TIMEOUT_MS = 10_000

type ThreadMessage =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'stopped' }
  | { type: 'batch'; id: number; error?: string; sqlState?: string }

/** The thread that creates a database (EmbeddedPostgres #createCluster): it closes PGlite, which writes its files out, and ends. */
const CREATE_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
;(async () => {
  const { PGlite } = await import(workerData.pglite)
  const db = await PGlite.create({ dataDir: workerData.dataDir })
  await db.close()
  parentPort.postMessage({ type: 'created' })
})().catch((error) => {
  // PGlite's file system throws plain objects ({ name: 'ErrnoError', errno }), not Errors.
  const message = error instanceof Error ? error.message : error !== null && typeof error === 'object' ? JSON.stringify(error) : String(error)
  parentPort.postMessage({ type: 'failed', message })
})
`

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
    else if (message.type === 'batch') runBatch(message)
  })
  // Batches (issue 15): one statement with its payload as one parameter, run by PGlite itself as
  // isogate_system in one implicit transaction (Parse/Bind/Execute twice, then Sync). Under
  // PGlite's exclusive lock and only while no socket client has a transaction open, so a batch
  // never joins a client's transaction. One at a time, in arrival order.
  let batches = Promise.resolve()
  let clientMidSequence = false
  let rawStream = null
  // Parse, Bind, Describe, Execute, Close, Flush: more of the client's sequence follows.
  const MID_SEQUENCE = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48])
  const runBatch = (message) => {
    batches = batches.then(async () => {
      try {
        const { protocol } = await import(workerData.pglite)
        const s = protocol.serialize
        const parts = [
          s.parse({ text: "SELECT set_config('role', 'isogate_system', true)" }), s.bind({}), s.execute({}),
          s.parse({ text: message.statement }), s.bind({ values: [message.payload] }), s.execute({}),
          s.sync(),
        ]
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let offset = 0
        for (const part of parts) { bytes.set(part, offset); offset += part.length }
        for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
          // The raw stream with our own sink: PGlite keeps the last stream's sink (the socket
          // client's) for the next call, so execProtocol here would answer into the client's socket.
          const chunks = []
          const done = await db.runExclusive(async () => {
            if (clientMidSequence || db.isInTransaction()) return false
            await rawStream(bytes, { onRawData: (data) => chunks.push(data.slice()) })
            return true
          })
          if (!done) {
            await new Promise((resolve) => setTimeout(resolve, wait))
            continue
          }
          let failure = null
          new protocol.Parser().parse(Buffer.concat(chunks), (reply) => {
            if (reply.name === 'error' && failure === null) failure = reply
          })
          if (failure !== null) throw failure
          break
        }
        parentPort.postMessage({ type: 'batch', id: message.id })
      } catch (error) {
        parentPort.postMessage({ type: 'batch', id: message.id, error: error instanceof Error ? error.message : String(error), sqlState: error?.code })
      }
    })
  }
  try {
    db = await PGlite.create({ dataDir: workerData.dataDir, pgliteWasmModule: workerData.wasmModule })
    // The socket server hands PGlite one wire message at a time: between a client's Parse, Bind,
    // Execute and its Sync, PGlite is idle but the client's sequence is open. Batches wait for
    // the end of a sequence (Sync, a simple Query, a new connection's startup).
    rawStream = db.execProtocolRawStream.bind(db)
    db.execProtocolRawStream = (message, options) => {
      clientMidSequence = MID_SEQUENCE.has(message[0])
      return rawStream(message, options)
    }
    server = new PGLiteSocketServer({ db, host: workerData.host, port: 0, maxConnections: 1 })
    await server.start()
    parentPort.postMessage({ type: 'listening', port: Number(server.getServerConn().split(':').pop()) })
  } catch (error) {
    parentPort.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
    await stop().catch(() => undefined)
  }
})()
`
