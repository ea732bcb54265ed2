import { Counter, Gauge, type Registry } from 'prom-client'

/** What the supervisor counts of crashes and their containment (RunnerSupervisor.incidents). */
export interface ContainmentSource {
  readonly incidents: {
    retriedRuns: number
    retriedSiblings: number
    probationRuns: number
    suspects: number
    suspected: number
    convicted: number
    cleared: number
    unattributedCrashes: number
  }
}

/**
 * Blame, probation and crash retries on /metrics, read from the gateway's own counters at scrape
 * time (no runner is asked, nothing is pushed on the hot path).
 *
 * @example
 * new ContainmentMetrics(supervisor, registry)
 * // isogate_blame_decisions_total{decision="convicted"} 1
 */
export class ContainmentMetrics {
  constructor(source: ContainmentSource, registry: Registry) {
    if (typeof source?.incidents !== 'object') throw new TypeError('source must have incidents')
    const registers = [registry]
    const total = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset()
          this.inc(read())
        },
      })
    }
    total('isogate_crash_retried_runs_total', 'Runs lost to a runner crash before any effect, run again once', () => source.incidents.retriedRuns)
    total('isogate_limit_sibling_retried_runs_total', "Runs ended by a sibling run's limit kill before any effect, run again on a fresh isolate", () => source.incidents.retriedSiblings)
    total('isogate_probation_runs_total', 'Runs of suspects let onto the probation runner', () => source.incidents.probationRuns)
    new Counter({
      name: 'isogate_blame_decisions_total',
      help: 'Blame decisions after runner crashes: suspected (tenants in flight at a crash), convicted (crashed a runner alone), cleared, unattributed (crashes blamed on nobody)',
      labelNames: ['decision'],
      registers,
      collect() {
        const { suspected, convicted, cleared, unattributedCrashes } = source.incidents
        this.reset()
        this.inc({ decision: 'suspected' }, suspected)
        this.inc({ decision: 'convicted' }, convicted)
        this.inc({ decision: 'cleared' }, cleared)
        this.inc({ decision: 'unattributed' }, unattributedCrashes)
      },
    })
    new Gauge({
      name: 'isogate_crash_suspects',
      help: 'Tenants suspected of a runner crash now (their runs go to the probation runner)',
      registers,
      collect() {
        this.set(source.incidents.suspects)
      },
    })
  }
}
