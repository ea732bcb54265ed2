import type { Level, Logger } from 'pino'
import { runFailureStatus, type RunResult } from '../runner/index.js'

export interface AccessLogOptions {
  logger: Logger
  /** Level of the line each run writes (`silent`: none); limit kills and crashes are warn whatever it is. */
  level: Level | 'silent'
  /** Fraction of successful runs that write a line, 0..1; failed runs always do. */
  sampleRate: number
  /** Sampling draws, replaceable in tests. */
  random?: () => number
}

/** What one HTTP run's line says. */
export interface AccessLogRun {
  executionId: string
  tenant: string
  scriptId: string
  version: number
  method: string
  url: string
  result: RunResult
  /** The status the client got (499 when it went away first). */
  status: number
}

/** Codes that mean the run was ended by the host, not by the script: an operator wants to see them. */
const KILLS = new Set(['SCRIPT_CPU_LIMIT', 'SCRIPT_MEMORY_LIMIT', 'SCRIPT_TIMEOUT', 'RUNNER_CRASHED'])

/**
 * The data plane's access log: one pino line per run with the execution id, tenant, script,
 * status, duration and code, at a set level and sampling (successes only; failures are always
 * logged). A run ended by a limit or a crash is a warn line, never sampled out.
 *
 * @example
 * const log = new AccessLog({ logger, level: 'info', sampleRate: 0.1 })
 * log.write({ executionId, tenant: 'acme', scriptId, version: 3, method: 'GET', url, result, status: 200 })
 */
export class AccessLog {
  readonly #logger: Logger
  readonly #level: Level | 'silent'
  readonly #sampleRate: number
  readonly #random: () => number

  constructor(options: AccessLogOptions) {
    if (typeof options.sampleRate !== 'number' || !(options.sampleRate >= 0 && options.sampleRate <= 1)) throw new RangeError('options.sampleRate must be a number from 0 to 1')
    this.#logger = options.logger
    this.#level = options.level
    this.#sampleRate = options.sampleRate
    this.#random = options.random ?? Math.random
  }

  write(run: AccessLogRun): void {
    const code = run.result.ok ? null : (run.result.error?.code ?? 'SCRIPT_ERROR')
    if (code !== null && KILLS.has(code)) {
      this.#logger.warn(this.#line(run, code), code === 'RUNNER_CRASHED' ? 'a run was lost to a runner crash' : `a run was ended by a limit (${code})`)
      return
    }
    if (this.#level === 'silent' || !this.#logger.isLevelEnabled(this.#level)) return
    if (code === null && this.#sampleRate < 1 && this.#random() >= this.#sampleRate) return
    this.#logger[this.#level](this.#line(run, code), 'run')
  }

  #line(run: AccessLogRun, code: string | null): Record<string, unknown> {
    const query = run.url.indexOf('?')
    const path = run.url.slice(run.url.indexOf('/', run.url.indexOf('//') + 2), query === -1 ? undefined : query)
    return {
      executionId: run.executionId,
      tenant: run.tenant,
      scriptId: run.scriptId,
      version: run.version,
      method: run.method,
      path,
      status: run.status,
      durationMs: Math.round(run.result.metrics.wallMs * 100) / 100,
      cpuMs: Math.round(run.result.metrics.cpuMs * 100) / 100,
      code,
    }
  }
}

/** The status a run's client got, from its result. */
export function runStatus(result: RunResult): number {
  if (result.ok && result.response !== undefined) return result.response.status
  return runFailureStatus(result.error?.code ?? 'SCRIPT_ERROR')
}
