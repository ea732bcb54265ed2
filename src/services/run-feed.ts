import { runFailureStatus, type ErrorData, type HttpRequestData, type LogEntry, type RunResult, type RunTask } from '../../runner/index.js'
import type { Trigger } from '../domain/execution.js'

/** One finished run as the live tail shows it: every run, sampled into the records or not. */
export interface RunEvent {
  id: string
  tenantId: string
  scriptId: string
  version: number
  trigger: Trigger
  /** HTTP runs: the request's method and path (without the query); null otherwise. */
  method: string | null
  path: string | null
  /** HTTP runs: the status the client got; null otherwise. */
  status: number | null
  outcome: 'ok' | 'error'
  /** The error code of a failed run, else null. */
  code: string | null
  error: ErrorData | null
  durationMs: number
  cpuMs: number
  logs: LogEntry[]
  /** When the run finished (ms since the epoch). */
  at: number
}

export type RunListener = (event: RunEvent) => void

/** What runs tasks: the runner processes behind SecretEnv. */
export interface FeedExecutor {
  run(task: RunTask): Promise<RunResult>
}

export interface RunFeedOptions {
  failureStatus?: (code: string) => number
}

const TRIGGER_OF: Record<RunTask['kind'], Trigger> = { fetch: 'http', scheduled: 'cron', event: 'event', run: 'manual' }

/**
 * The in-process feed of finished runs, per tenant: the live tail subscribes to it. Publishing
 * costs a map lookup when nobody listens (the event is built only for listeners), and a listener
 * must not block: the tail queues or drops per client, never here.
 *
 * Runs reach the feed through `observe(executor)`: every run path (data plane, cron, events, manual
 * and ad-hoc runs) goes through that one executor, so no path can forget to publish.
 *
 * @example
 * const feed = new RunFeed()
 * const runner = feed.observe(new SecretEnv(pool, secrets))
 * const stop = feed.subscribe(tenantId, (event) => console.log(event.id, event.status))
 */
export class RunFeed {
  readonly #listeners = new Map<string, Set<RunListener>>()
  readonly #failureStatus: (code: string) => number

  /** `failureStatus`: the HTTP status a failed run's client gets, by code (the runner's table unless given). */
  constructor(options: RunFeedOptions = {}) {
    if (options.failureStatus !== undefined && typeof options.failureStatus !== 'function') throw new TypeError('options.failureStatus must be a function')
    this.#failureStatus = options.failureStatus ?? runFailureStatus
  }

  /** Listens to one tenant's runs; answers the function that stops listening. */
  subscribe(tenantId: string, listener: RunListener): () => void {
    let set = this.#listeners.get(tenantId)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(tenantId, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.#listeners.get(tenantId) === set) this.#listeners.delete(tenantId)
    }
  }

  /** Whether anyone listens to this tenant's runs. */
  listening(tenantId: string): boolean {
    return this.#listeners.has(tenantId)
  }

  /** Hands a finished run to the tenant's listeners; `build` runs only when there are some. */
  publish(tenantId: string, build: () => RunEvent): void {
    const set = this.#listeners.get(tenantId)
    if (set === undefined) return
    const event = build()
    for (const listener of set) listener(event)
  }

  /** An executor that runs through `inner` and publishes every finished run (a host failure too). */
  observe(inner: FeedExecutor): FeedExecutor {
    // A promise chained, not an async function: every run passes here (one frame and resume less).
    return {
      run: (task) => {
        let running: Promise<RunResult>
        try {
          running = inner.run(task)
        } catch (error) {
          running = Promise.reject(error)
        }
        return running.then(
          (result) => {
            if (this.#listeners.has(task.program.tenantId)) this.publish(task.program.tenantId, () => runEvent(task, result, this.#failureStatus))
            return result
          },
          (error: unknown) => {
            this.publish(task.program.tenantId, () => runEvent(task, hostFailure(error), this.#failureStatus))
            throw error
          },
        )
      },
    }
  }
}

/** The feed's event for a task and its result. */
export function runEvent(task: RunTask, result: RunResult, failureStatus: (code: string) => number = runFailureStatus): RunEvent {
  const http = task.kind === 'fetch' ? (task.input as HttpRequestData) : null
  const code = result.ok ? null : (result.error?.code ?? 'SCRIPT_ERROR')
  return {
    id: task.trace?.executionId ?? '',
    tenantId: task.program.tenantId,
    scriptId: task.program.scriptId,
    version: task.program.version,
    trigger: TRIGGER_OF[task.kind],
    method: http?.method ?? null,
    path: http === null ? null : pathOf(http.url),
    status: http === null ? null : result.ok && result.response !== undefined ? result.response.status : failureStatus(code ?? 'SCRIPT_ERROR'),
    outcome: result.ok ? 'ok' : 'error',
    code,
    error: result.error ?? null,
    durationMs: result.metrics.wallMs,
    cpuMs: result.metrics.cpuMs,
    logs: result.logs,
    at: Date.now(),
  }
}

function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return '/'
  const query = url.indexOf('?', start)
  return query === -1 ? url.slice(start) : url.slice(start, query)
}

function hostFailure(error: unknown): RunResult {
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'RUNNER_UNAVAILABLE'
  return {
    ok: false,
    error: { code, message: error instanceof Error ? error.message : String(error) },
    logs: [],
    metrics: { wallMs: 0, cpuMs: 0, heapBytes: 0, apiCalls: 0, outputBytes: 0, start: 'cold' },
  }
}
