export interface CircuitBreakerOptions {
  /** Consecutive failed runs of a script that open its circuit. */
  failureThreshold?: number
  /** How long an open circuit refuses runs before letting one trial through. */
  coolDownMs?: number
  /** Clock, for tests. */
  now?: () => number
}

const DEFAULTS = { failureThreshold: 10, coolDownMs: 10_000 }

type State = { kind: 'closed'; failures: number } | { kind: 'open'; until: number } | { kind: 'half-open'; trial: boolean }

/**
 * One circuit per script: after `failureThreshold` consecutive failures (errors, timeouts,
 * limits) the script is not run for `coolDownMs` (SCRIPT_UNAVAILABLE); then one trial run is let
 * through (half-open): success closes the circuit, failure opens it again.
 */
export class CircuitBreaker {
  readonly #threshold: number
  readonly #coolDownMs: number
  readonly #now: () => number
  readonly #circuits = new Map<string, State>()

  constructor(options: CircuitBreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? DEFAULTS.failureThreshold
    this.#coolDownMs = options.coolDownMs ?? DEFAULTS.coolDownMs
    this.#now = options.now ?? Date.now
    if (!Number.isInteger(this.#threshold) || this.#threshold < 1) throw new RangeError('options.failureThreshold must be a positive integer')
    if (!Number.isInteger(this.#coolDownMs) || this.#coolDownMs < 0) throw new RangeError('options.coolDownMs must be a non-negative integer')
  }

  /** Whether a run of `key` may start now; when not, the seconds until it may be tried again. */
  allow(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const state = this.#circuits.get(key)
    if (state === undefined || state.kind === 'closed') return { allowed: true }
    if (state.kind === 'open') {
      const remaining = state.until - this.#now()
      if (remaining > 0) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(remaining / 1000)) }
      this.#circuits.set(key, { kind: 'half-open', trial: true })
      return { allowed: true }
    }
    // Half-open: only the one trial run; others wait for its outcome.
    return { allowed: false, retryAfterSeconds: 1 }
  }

  succeeded(key: string): void {
    if (this.#circuits.has(key)) this.#circuits.delete(key)
  }

  failed(key: string): void {
    const state = this.#circuits.get(key)
    if (state?.kind === 'half-open' || (state?.kind === 'closed' && state.failures + 1 >= this.#threshold) || (state === undefined && this.#threshold === 1)) {
      this.#circuits.set(key, { kind: 'open', until: this.#now() + this.#coolDownMs })
      return
    }
    if (state?.kind === 'open') return
    this.#circuits.set(key, { kind: 'closed', failures: (state?.kind === 'closed' ? state.failures : 0) + 1 })
  }

  isOpen(key: string): boolean {
    return this.#circuits.get(key)?.kind === 'open'
  }
}
