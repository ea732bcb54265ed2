import { LRUCache } from 'lru-cache'

/** Runs of a program seen before its first steps may be taken synchronously. */
const WARM_RUNS = 8
/** A program whose steps average more CPU than this (ns) takes its first steps asynchronously. */
const MAX_AVERAGE_NS = 2_000_000
/** A step's CPU counts into the average at most this much (ns): one GC pause does not move it far. */
const CLAMP_NS = 10_000_000
/** Steps of one run averaging over this (ns) end synchronous first steps for its program. */
const LONG_NS = 50_000_000

interface Cost {
  runs: number
  averageNs: number
}

/**
 * What each program's steps cost on this thread, to decide how a run's first step (and the
 * answers of its host calls) enter its isolate (isolate-host.ts). A synchronous step holds the
 * worker thread, and every tenant whose runs wait on it, for as long as it runs: only programs
 * whose steps have been seen to be short earn it. A run's CPU is recorded over its steps (the
 * first, and one per host call's answer). A new program takes its first WARM_RUNS runs
 * asynchronously on isolated-vm's pool, a program whose steps grow long goes back there, and one
 * that went over its limit in a synchronous step stays there. Kept by program key, so an isolate killed for a long step does not make its
 * successor try again.
 *
 * @example
 * const costs = new StepCosts()
 * if (costs.sync(key)) ... // else asynchronously
 * costs.record(key, cpuNs)
 */
export class StepCosts {
  readonly #costs: LRUCache<string, Cost>

  constructor(max = 10_000) {
    this.#costs = new LRUCache<string, Cost>({ max })
  }

  /** Whether runs of program `key` have earned synchronous first steps. */
  sync(key: string): boolean {
    const cost = this.#costs.get(key)
    return cost !== undefined && cost.runs >= WARM_RUNS && cost.averageNs <= MAX_AVERAGE_NS
  }

  /**
   * A run of program `key` used `ns` of its isolate's CPU a step (read over the run's whole life,
   * so a sibling's CPU in the same isolate may be counted too: an overestimate, which errs the
   * safe way).
   */
  record(key: string, ns: number): void {
    const cost = this.#costs.get(key)
    if (ns > LONG_NS) return this.ban(key)
    if (cost === undefined) {
      this.#costs.set(key, { runs: 1, averageNs: Math.min(ns, CLAMP_NS) })
      return
    }
    if (!Number.isFinite(cost.averageNs)) return
    cost.runs++
    // A moving average over about eight runs.
    cost.averageNs += (Math.min(ns, CLAMP_NS) - cost.averageNs) / Math.min(cost.runs, 8)
  }

  /** Program `key` never takes a synchronous first step again (while remembered). */
  ban(key: string): void {
    this.#costs.set(key, { runs: 0, averageNs: Number.POSITIVE_INFINITY })
  }
}
