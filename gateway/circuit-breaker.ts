export interface CircuitBreakerOptions {
  /** Consecutive failed runs of a script that open its circuit. */
  failureThreshold?: number
  /** How long an open circuit refuses runs before letting one trial through. */
  coolDownMs?: number
  /** Each time a circuit opens or closes, for the logs. */
  onChange?: (change: CircuitChange) => void
  /** Clock, for tests. */
  now?: () => number
}

/** A circuit opened (failures in a row), or closed again (a trial succeeded, or a new version came). */
export interface CircuitChange {
  key: string
  version: number
  state: 'open' | 'closed'
  reason: 'failures' | 'trial-failed' | 'trial-succeeded' | 'new-version'
  /** Open: until when (epoch ms) it refuses runs. */
  until?: number
}

const DEFAULTS = { failureThreshold: 10, coolDownMs: 10_000 }

/**
 * Failures that are not the script's: the runner under it crashed (another tenant's doing, or
 * an operator's kill), no runner could take it, its tenant is quarantined, or a sibling run's
 * limit kill took it down. They never count toward its circuit.
 */
const NOT_THE_SCRIPTS = new Set(['RUNNER_CRASHED', 'RUNNER_UNAVAILABLE', 'TENANT_QUARANTINED', 'SCRIPT_SIBLING_LIMIT'])

/** Whether a failed run with this error code counts toward its script's circuit. */
export function countsAgainstScript(code: string | undefined): boolean {
  return code === undefined || !NOT_THE_SCRIPTS.has(code)
}

type State = { kind: 'closed'; failures: number } | { kind: 'open'; until: number } | { kind: 'half-open'; trial: boolean }

/**
 * One circuit per script: after `failureThreshold` consecutive failures (errors, timeouts,
 * limits; see `countsAgainstScript`) the script is not run for `coolDownMs` (SCRIPT_UNAVAILABLE);
 * then one trial run is let through (half-open): success closes the circuit, failure opens it
 * again. A circuit belongs to one version: a new version deployed starts closed, its fix
 * is not refused for the old version's failures.
 *
 * @example
 * const breaker = new CircuitBreaker({ onChange: (change) => logger.warn(change, `circuit ${change.state}`) })
 * if (breaker.allow(scriptId, version).allowed) run().then((ok) => (ok ? breaker.succeeded(scriptId, version) : breaker.failed(scriptId, version)))
 */
export class CircuitBreaker {
  readonly #threshold: number
  readonly #coolDownMs: number
  readonly #now: () => number
  readonly #onChange: (change: CircuitChange) => void
  readonly #circuits = new Map<string, State & { version: number }>()

  constructor(options: CircuitBreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? DEFAULTS.failureThreshold
    this.#coolDownMs = options.coolDownMs ?? DEFAULTS.coolDownMs
    this.#now = options.now ?? Date.now
    if (!Number.isInteger(this.#threshold) || this.#threshold < 1) throw new RangeError('options.failureThreshold must be a positive integer')
    if (!Number.isInteger(this.#coolDownMs) || this.#coolDownMs < 0) throw new RangeError('options.coolDownMs must be a non-negative integer')
    if (options.onChange !== undefined && typeof options.onChange !== 'function') throw new TypeError('options.onChange must be a function')
    this.#onChange = options.onChange ?? (() => {})
  }

  /** Whether a run of `key` at `version` may start now; when not, the seconds until it may be tried again. */
  allow(key: string, version = 0): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const state = this.#current(key, version)
    if (state === undefined || state.kind === 'closed') return { allowed: true }
    if (state.kind === 'open') {
      const remaining = state.until - this.#now()
      if (remaining > 0) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(remaining / 1000)) }
      this.#circuits.set(key, { kind: 'half-open', trial: true, version })
      return { allowed: true }
    }
    // Half-open: only the one trial run; others wait for its outcome.
    return { allowed: false, retryAfterSeconds: 1 }
  }

  succeeded(key: string, version = 0): void {
    const state = this.#current(key, version)
    if (state === undefined) return
    this.#circuits.delete(key)
    if (state.kind !== 'closed') this.#onChange({ key, version, state: 'closed', reason: 'trial-succeeded' })
  }

  failed(key: string, version = 0): void {
    const state = this.#current(key, version)
    if (state?.kind === 'open') return
    const failures = (state?.kind === 'closed' ? state.failures : 0) + 1
    if (state?.kind === 'half-open' || failures >= this.#threshold) {
      const until = this.#now() + this.#coolDownMs
      this.#circuits.set(key, { kind: 'open', until, version })
      this.#onChange({ key, version, state: 'open', reason: state?.kind === 'half-open' ? 'trial-failed' : 'failures', until })
      return
    }
    this.#circuits.set(key, { kind: 'closed', failures, version })
  }

  isOpen(key: string): boolean {
    return this.#circuits.get(key)?.kind === 'open'
  }

  /** The circuit of `key` for this version: another version's is forgotten (closed again). */
  #current(key: string, version: number): (State & { version: number }) | undefined {
    const state = this.#circuits.get(key)
    if (state === undefined || state.version === version) return state
    this.#circuits.delete(key)
    if (state.kind !== 'closed') this.#onChange({ key, version, state: 'closed', reason: 'new-version' })
    return undefined
  }
}
