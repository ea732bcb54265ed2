import { Piscina } from 'piscina'
import { RunnerError } from './errors.js'
import type { WorkerMessage, WorkerSettings } from './worker.js'

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

  constructor(options: WorkerShardOptions) {
    this.#pool = new Piscina({
      filename: options.workerUrl.href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: options.concurrentTasksPerWorker,
      workerData: options.settings,
    })
  }

  get inFlight(): number {
    return this.#inFlight
  }

  async call<T>(message: WorkerMessage): Promise<T> {
    this.#inFlight++
    try {
      return (await this.#pool.run(message)) as T
    } catch (error) {
      // The thread died under this task (uncaught error, worker out of memory): piscina has
      // already started a replacement; the task itself is lost.
      throw new RunnerError('RUNNER_CRASHED', 'the worker thread running this run crashed', {}, { cause: error })
    } finally {
      this.#inFlight--
    }
  }

  close(): Promise<void> {
    return this.#pool.close({ force: true })
  }
}
