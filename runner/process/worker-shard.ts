import { Piscina } from 'piscina'
import { RunnerError } from '../errors.js'
import { FairTaskQueue, inLane } from './fair-task-queue.js'
import type { WorkerMessage, WorkerSettings } from '../thread/worker.js'

export interface WorkerShardOptions {
  workerUrl: URL
  settings: WorkerSettings
  concurrentTasksPerWorker: number
}

/**
 * One worker thread, as a single-thread piscina pool. isogate pins each tenant to a home
 * thread so its isolate and compiled programs stay warm; piscina's load balancer only sees
 * task ids, not payloads, so affinity is chosen here, one shard per thread, and piscina keeps
 * what it is good at: the thread's lifecycle, replacing a crashed thread, the task queue,
 * and many tasks in flight per thread (`concurrentTasksPerWorker`).
 */
export class WorkerShard {
  readonly #pool: Piscina
  #inFlight = 0
  #crashes = 0
  #closing = false

  constructor(options: WorkerShardOptions) {
    this.#pool = new Piscina({
      filename: workerEntry(options.workerUrl).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: options.concurrentTasksPerWorker,
      // Runs past that wait in one lane per tenant, served round-robin (fair-task-queue.ts);
      // stricterFIFO makes piscina hand a task it could not place back to the head, not the tail.
      taskQueue: new FairTaskQueue(),
      stricterFIFO: true,
      // Piscina's default ('sync') parks an idle thread in Atomics.wait, which stops its event
      // loop: the idle-isolate timers, the spare-context preparation and a host API's late
      // callbacks would wait for the next task. 'async' waits with Atomics.waitAsync instead.
      atomics: 'async',
      // Under tsx the entry is tsx-worker.mjs; it finds the real worker module here.
      workerData: { ...options.settings, tsxWorkerModule: options.workerUrl.href },
    })
    // Piscina destroys a worker only when it died or the pool closes: the rest are crashes.
    this.#pool.on('workerDestroy', () => {
      if (!this.#closing) this.#crashes++
    })
    // A thread that dies with no task in flight (a timer of a host API threw after its run ended)
    // is reported as the pool's 'error' event; unheard, it would end the whole runner process and
    // every tenant on it. Piscina has started a replacement already: say so and keep serving.
    this.#pool.on('error', (error: unknown) => {
      process.emitWarning(new Error('a runner worker thread died with no run in flight; it was replaced', { cause: error }))
    })
  }

  /** Threads of this shard that died (each replaced by piscina). */
  get crashes(): number {
    return this.#crashes
  }

  get inFlight(): number {
    return this.#inFlight
  }

  async call<T>(message: WorkerMessage): Promise<T> {
    this.#inFlight++
    try {
      const lane = message.type === 'run' ? message.task.program.tenantId : ''
      return (await this.#pool.run(inLane(message, lane))) as T
    } catch (error) {
      // The thread died under this task (uncaught error, worker out of memory): piscina has
      // already started a replacement; the task itself is lost.
      throw new RunnerError('RUNNER_CRASHED', 'the worker thread running this run crashed', { threadOnly: true }, { cause: error })
    } finally {
      this.#inFlight--
    }
  }

  close(): Promise<void> {
    this.#closing = true
    return this.#pool.close({ force: true })
  }
}

/**
 * The module piscina starts: the worker itself, or under `--import tsx` (on Node 20 tsx registers
 * in the main thread only) runner/thread/tsx-worker.mjs, which registers tsx in the thread and loads it.
 */
function workerEntry(workerUrl: URL): URL {
  const underTsx = workerUrl.pathname.endsWith('.ts') && process.execArgv.some((arg, i, all) => arg === '--import=tsx' || (arg === '--import' && all[i + 1] === 'tsx'))
  return underTsx ? new URL('./tsx-worker.mjs', workerUrl) : workerUrl
}
