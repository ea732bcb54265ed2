export interface RunSamplerOptions {
  /** Share of successful runs kept when the script sets none (0..1). */
  sampleRate: number
  /** Runs of each new version of a script kept whatever the rate. */
  firstRuns: number
}

/** Refusals per script and code before the memo of the last kept ones starts over. */
const MAX_REFUSAL_KEYS = 10_000

/**
 * Tail sampling of successful runs, decided after the run: the first `firstRuns` runs of every
 * script version this process serves are kept (a fresh deploy always shows its runs), then each
 * run is kept with the script's sample rate (the default when it sets none). Failures never ask:
 * they are always kept. Refusals on a script's route (`keepRefusal`) are not runs: the first of
 * each code per script per second is kept.
 */
export class RunSampler {
  readonly #sampleRate: number
  readonly #firstRuns: number
  /** Per script: the version seen last and how many of its runs were kept as first runs. */
  readonly #versions = new Map<string, { version: number; seen: number }>()
  /** Per script and refusal code: the second (epoch) whose first refusal was kept. */
  readonly #refusals = new Map<string, number>()

  constructor(options: RunSamplerOptions) {
    if (typeof options.sampleRate !== 'number' || !(options.sampleRate >= 0 && options.sampleRate <= 1)) throw new RangeError('options.sampleRate must be a number from 0 to 1')
    if (!Number.isInteger(options.firstRuns) || options.firstRuns < 0) throw new RangeError('options.firstRuns must be a non-negative integer')
    this.#sampleRate = options.sampleRate
    this.#firstRuns = options.firstRuns
  }

  /** Whether this successful run of `scriptId` at `version` is kept in full. */
  keep(scriptId: string, version: number, sampleRate: number | undefined): boolean {
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
    const rate = sampleRate ?? this.#sampleRate
    return rate >= 1 || (rate > 0 && Math.random() < rate)
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
    if (this.#refusals.size >= MAX_REFUSAL_KEYS) this.#refusals.clear()
    this.#refusals.set(key, second)
    return true
  }
}
