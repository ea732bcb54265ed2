import { Counter, type Registry } from 'prom-client'
import type { RunResult, RunTask } from '../../runner/index.js'
import { OTHER_LABEL, type TenantLabels } from '../../gateway/index.js'

export interface ScriptFailureMetricsOptions {
  registry: Registry
  /** Bounds the tenant label (shared with the data plane's metrics). */
  tenants: TenantLabels
  /** The slug of a tenant id (null for a tenant that no longer exists). */
  slugOf: (tenantId: string) => string | null
  /** Scripts with a label value of their own; past it they are counted as `_other`. */
  maxScripts?: number
}

const CODE = /^[A-Z][A-Z0-9_]{1,63}$/

/**
 * `isogate_script_failures_total{tenant, script, code}`: failed runs of every trigger, by
 * script (its id) and error code. Label values are bounded: the tenant through TenantLabels, the
 * script by `maxScripts`, the code by the catalogues' shape (anything else is `OTHER`); a
 * deleted tenant's series go with it.
 */
export class ScriptFailureMetrics {
  readonly #counter: Counter<'tenant' | 'script' | 'code'>
  readonly #tenants: TenantLabels
  readonly #slugOf: (tenantId: string) => string | null
  readonly #maxScripts: number
  readonly #scripts = new Map<string, string>()
  /** Every series made, so a deleted tenant's can be removed (prom-client removes by full label set). */
  readonly #series = new Map<string, { tenant: string; script: string; code: string }>()

  constructor(options: ScriptFailureMetricsOptions) {
    this.#maxScripts = options.maxScripts ?? 10_000
    if (!Number.isInteger(this.#maxScripts) || this.#maxScripts < 1) throw new RangeError('options.maxScripts must be a positive integer')
    this.#tenants = options.tenants
    this.#slugOf = options.slugOf
    this.#counter = new Counter({ name: 'isogate_script_failures_total', help: 'Failed runs (every trigger) by tenant, script id and error code', labelNames: ['tenant', 'script', 'code'], registers: [options.registry] })
  }

  /** Counts the run when it failed. */
  observe(task: RunTask, result: RunResult): void {
    if (result.ok) return
    const slug = this.#slugOf(task.program.tenantId)
    if (slug === null) return
    const code = result.error?.code
    const labels = { tenant: this.#tenants.of(slug), script: this.#scriptLabel(task.program.scriptId, task.program.tenantId), code: typeof code === 'string' && CODE.test(code) ? code : 'OTHER' }
    this.#series.set(`${labels.tenant}\u0000${labels.script}\u0000${labels.code}`, labels)
    this.#counter.inc(labels)
  }

  /** A tenant was deleted: its series go. */
  forgetTenant(tenantId: string, slug: string): void {
    for (const [scriptId, owner] of this.#scripts) if (owner === tenantId) this.#scripts.delete(scriptId)
    for (const [key, labels] of this.#series) {
      if (labels.tenant !== slug) continue
      this.#counter.remove(labels)
      this.#series.delete(key)
    }
  }

  #scriptLabel(scriptId: string, tenantId: string): string {
    if (this.#scripts.has(scriptId)) return scriptId
    if (this.#scripts.size >= this.#maxScripts) return OTHER_LABEL
    this.#scripts.set(scriptId, tenantId)
    return scriptId
  }
}
