export interface RunSamplerOptions {
  /** Share of successful runs kept when the script sets none (0..1). */
  sampleRate: number
  /** Runs of each new version of a script kept whatever the rate. */
  firstRuns: number
  /**
   * Most runs of one script kept per second at the default rate (the first runs and a script's
   * own rate are not capped). Default DEFAULTS.maxPerSecond.
   */
  maxPerSecond?: number
}

const DEFAULTS = { maxPerSecond: 10 }

/** Refusals per script and code, or scripts capped per second, before their memo starts over. */
const MAX_SECOND_KEYS = 10_000

/**
 * Tail sampling of successful runs, decided after the run: the first `firstRuns` runs of every
 * script version this process serves are kept (a fresh deploy always shows its runs), then each
 * run is kept with the script's sample rate (the default when it sets none). Failures never ask:
 * they are always kept. Refusals on a script's route (`keepRefusal`) are not runs: the first of
 * each code per script per second is kept.
 *
 * At the default rate a script keeps at most `maxPerSecond` runs a second. A kept record costs
 * several times its run (hello at about 10,000 requests a second with 1% kept: the gateway's
 * other threads, the embedded database's among them, spent 9.9 us a request against 2.5 with none
 * kept, the whole server 160), so without a cap the busiest script spends the database on copies
 * of one success. A rate-limited sampler, as tracing agents have (Datadog's 10 traces a second);
 * the counts stay exact in the rollups.
 * A script that sets its own rate asked for that share of its runs: it is not capped.
 */
export class RunSampler {
  readonly #sampleRate: number
  readonly #firstRuns: number
  /** Per script: the version seen last and how many of its runs were kept as first runs. */
  readonly #versions = new Map<string, { version: number; seen: number }>()
  /** Per script and refusal code: the second (epoch) whose first refusal was kept. */
  readonly #refusals = new Map<string, number>()
  readonly #maxPerSecond: number
  /** Per script: the second (epoch) of its last run kept at the default rate and how many it kept in it. */
  readonly #kept = new Map<string, { second: number; kept: number }>()

  constructor(options: RunSamplerOptions) {
    if (typeof options.sampleRate !== 'number' || !(options.sampleRate >= 0 && options.sampleRate <= 1)) throw new RangeError('options.sampleRate must be a number from 0 to 1')
    if (!Number.isInteger(options.firstRuns) || options.firstRuns < 0) throw new RangeError('options.firstRuns must be a non-negative integer')
    const maxPerSecond = options.maxPerSecond ?? DEFAULTS.maxPerSecond
    if (!Number.isInteger(maxPerSecond) || maxPerSecond < 1) throw new RangeError('options.maxPerSecond must be a positive integer')
    this.#sampleRate = options.sampleRate
    this.#firstRuns = options.firstRuns
    this.#maxPerSecond = maxPerSecond
  }

  /** Whether this successful run of `scriptId` at `version`, ended at `now` (ms), is kept in full. */
  keep(scriptId: string, version: number, sampleRate: number | undefined, now = Date.now()): boolean {
    if (this.#firstRuns > 0) {
      let seen = this.#versions.get(scriptId)
      if (seen === undefined || seen.version < version) {
        seen = { version, seen: 0 }
        this.#versions.set(scriptId, seen)
      }
      if (seen.version === version && seen.seen < this.#firstRuns) {
        seen.seen++
        return true
      }
    }
    if (sampleRate !== undefined) return drawn(sampleRate)
    if (!drawn(this.#sampleRate)) return false
    const second = Math.floor(now / 1000)
    const kept = this.#kept.get(scriptId)
    if (kept !== undefined && kept.second === second) {
      if (kept.kept >= this.#maxPerSecond) return false
      kept.kept++
      return true
    }
    if (kept !== undefined) {
      kept.second = second
      kept.kept = 1
      return true
    }
    if (this.#kept.size >= MAX_SECOND_KEYS) this.#kept.clear()
    this.#kept.set(scriptId, { second, kept: 1 })
    return true
  }

  /**
   * Whether a refusal of a request to `scriptId` (`TENANT_BUSY`, `OVERLOADED`,
   * `SCRIPT_UNAVAILABLE`: it reached no script) is kept in full: the first of each code per script
   * in each second (`now`, ms). A client hammering an open circuit would otherwise make every
   * 503 a database write: ten times the CPU of the refusal itself (measured: 258 against 26 us).
   */
  keepRefusal(scriptId: string, code: string, now: number): boolean {
    const key = `${scriptId}\u0000${code}`
    const second = Math.floor(now / 1000)
    if (this.#refusals.get(key) === second) return false
    if (this.#refusals.size >= MAX_SECOND_KEYS) this.#refusals.clear()
    this.#refusals.set(key, second)
    return true
  }
}

/** A draw at `rate` (0..1): 1 keeps every run, 0 none. */
function drawn(rate: number): boolean {
  return rate >= 1 || (rate > 0 && Math.random() < rate)
}
