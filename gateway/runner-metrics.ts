import { Counter, Gauge, type Registry } from 'prom-client'
import type { PoolStats } from '../runner/index.js'

/** One runner's counters as the metrics need them (RunnerSupervisor.runnerStats answers this). */
export interface RunnerCounters {
  runner: number
  /** null: the runner is down or did not answer in time. */
  stats: PoolStats | null
}

/** Where the counters come from: asked once per scrape. */
export interface RunnerStatsSource {
  runnerStats(timeoutMs: number): Promise<RunnerCounters[]>
  /** Kept by the gateway itself: no runner is asked. */
  readonly incidents: { runnerCrashes: number; quarantinedTenants: number }
}

interface Snapshot {
  runners: RunnerCounters[]
  crashes: number
  quarantined: number
}

export interface RunnerMetricsOptions {
  source: RunnerStatsSource
  registry: Registry
  /** How long a scrape waits for a runner's answer; a runner that is later shows `isogate_runner_up 0`. */
  timeoutMs?: number
}

const DEFAULTS = { timeoutMs: 500 }

/** Every runner counter is a counter on /metrics; `isolates` is a gauge. */
type CounterKey = Exclude<keyof PoolStats, 'isolates'>

/**
 * The runners' isolate and compile-cache counters on /metrics, labelled by runner slot. They live
 * in the runner processes' worker threads, so they are collected at scrape time (one question to
 * every runner per scrape, shared by all the metrics below), never pushed on the hot path. A
 * runner that is down or slow is reported `isogate_runner_up{runner} 0` and its series are left
 * out of that scrape: /metrics answers within `timeoutMs` whatever a runner does.
 *
 * @example
 * new RunnerMetrics({ source: supervisor, registry })
 * // isogate_runner_isolate_hits_total{runner="0"} 42
 */
export class RunnerMetrics {
  readonly #source: RunnerStatsSource
  readonly #timeoutMs: number
  #scrape: Promise<Snapshot> | null = null

  constructor(options: RunnerMetricsOptions) {
    if (typeof options?.source?.runnerStats !== 'function') throw new TypeError('options.source must answer runnerStats()')
    const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs
    if (!Number.isInteger(timeoutMs)) throw new TypeError('options.timeoutMs must be an integer')
    if (timeoutMs < 1) throw new RangeError('options.timeoutMs must be a positive integer')
    this.#source = options.source
    this.#timeoutMs = timeoutMs
    const registers = [options.registry]
    const snapshot = (): Promise<Snapshot> => this.#snapshot()
    /** A value per runner that answered, read from the runners at scrape time: the metric starts over, then each runner's is put in. */
    const perRunner = async (metric: { reset(): void }, put: (labels: { runner: string }, stats: PoolStats) => void): Promise<void> => {
      const { runners } = await snapshot()
      metric.reset()
      for (const { runner, stats } of runners) if (stats !== null) put({ runner: String(runner) }, stats)
    }
    const counter = (name: string, help: string, key: CounterKey): void => {
      new Counter({
        name,
        help,
        labelNames: ['runner'],
        registers,
        async collect() {
          // Absolute values read from the runners: each runner's total.
          await perRunner(this, (labels, stats) => this.inc(labels, stats[key]))
        },
      })
    }
    counter('isogate_runner_isolate_hits_total', 'Runs that found their tenant isolate alive', 'isolateHits')
    counter('isogate_runner_isolate_misses_total', 'Runs that created their tenant isolate (cold starts)', 'isolateMisses')
    counter('isogate_runner_blank_isolate_starts_total', 'Cold starts that took an isolate made ahead while the runner was idle, rather than making one', 'blankStarts')
    counter('isogate_runner_compile_cache_hits_total', 'Runs whose compiled program was cached in the isolate', 'programHits')
    counter('isogate_runner_compile_cache_misses_total', 'Runs that compiled their program', 'programMisses')
    counter('isogate_runner_thread_steps_total', "Runs whose first step entered their isolate synchronously on the worker thread (the fast path)", 'threadSteps')
    counter('isogate_runner_pool_steps_total', "Runs whose first step went to isolated-vm's pool (a new or long-running program, or an isolate that may be executing)", 'poolSteps')
    counter('isogate_runner_thread_answers_total', "Host calls' answers that entered their isolate synchronously on the worker thread (the fast path)", 'threadAnswers')
    counter('isogate_runner_pool_answers_total', "Host calls' answers that entered their isolate on isolated-vm's pool (a long-running program, or an isolate that may be executing)", 'poolAnswers')
    counter('isogate_runner_cache_kept_answers_total', 'ctx.cache.get calls a worker thread answered from what it kept, without asking the gateway', 'keptAnswers')
    counter('isogate_runner_run_batches_total', 'Messages of runs sent to worker threads, one per tenant per turn (runs per message: the runs over this)', 'runBatches')
    counter('isogate_runner_result_takes_total', "Runs started synchronously whose result left their isolate by a call of its own (the others' left with the next run's dispatch: calls into isolates per run, the runs over this)", 'resultTakes')
    counter('isogate_runner_cpu_held_runs_total', "Runs that arrived at a worker thread while their tenant was over its CPU share (ISOGATE_TENANT_CPU_SHARE) beside a tenant under it: they waited for its rate to decay", 'cpuHeldRuns')
    counter('isogate_runner_thread_crashes_total', 'Worker threads that died inside a runner process (each replaced)', 'threadCrashes')
    counter('isogate_runner_moved_runs_total', 'Runs taken from a worker thread (or a runner without worker threads) held by a long synchronous step before it started them, and run on another thread (or runner)', 'movedRuns')
    const gauge = (name: string, help: string, key: 'isolates' | 'blankIsolates' | 'threads'): void => {
      new Gauge({
        name,
        help,
        labelNames: ['runner'],
        registers,
        async collect() {
          await perRunner(this, (labels, stats) => this.set(labels, stats[key]))
        },
      })
    }
    gauge('isogate_runner_isolates', 'Live tenant isolates', 'isolates')
    gauge('isogate_runner_blank_isolates', 'Isolates made ahead while the runner was idle, for cold starts to take', 'blankIsolates')
    gauge('isogate_runner_worker_threads', "Worker threads of the runner process; 0: its runs execute on the process's own thread (ISOGATE_WORKERS=0)", 'threads')
    new Gauge({
      name: 'isogate_runner_up',
      help: 'Whether the runner answered this scrape in time',
      labelNames: ['runner'],
      registers,
      async collect() {
        const { runners } = await snapshot()
        this.reset()
        for (const { runner, stats } of runners) this.set({ runner: String(runner) }, stats === null ? 0 : 1)
      },
    })
    new Counter({
      name: 'isogate_runner_crashes_total',
      help: 'Runner processes lost while serving',
      registers,
      async collect() {
        const { crashes } = await snapshot()
        this.reset()
        this.inc(crashes)
      },
    })
    new Gauge({
      name: 'isogate_quarantined_tenants',
      help: 'Tenants quarantined for crashing runners',
      registers,
      async collect() {
        this.set((await snapshot()).quarantined)
      },
    })
  }

  /**
   * prom-client runs every collect() of a scrape in the same turn: they share one answer, and the
   * next scrape asks again.
   */
  #snapshot(): Promise<Snapshot> {
    if (this.#scrape === null) {
      this.#scrape = this.#ask().finally(() => {
        setImmediate(() => {
          this.#scrape = null
        })
      })
    }
    return this.#scrape
  }

  async #ask(): Promise<Snapshot> {
    const runners = await this.#source.runnerStats(this.#timeoutMs)
    const { runnerCrashes, quarantinedTenants } = this.#source.incidents
    return { runners, crashes: runnerCrashes, quarantined: quarantinedTenants }
  }
}
