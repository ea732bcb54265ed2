import os from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { rank, threadRank } from '../runner/index.js'
import { load, type Measurement } from './load.js'
import { SCRIPTS, type Deployer } from './scenarios.js'
import type { BenchServer } from './servers.js'

/** A noisy tenant making 100 ctx.cache.get calls a run (the measured neighbour). */
const HOST_CALLS = `export default {
  async fetch(request, env, ctx) {
    let hits = 0
    for (let i = 0; i < 100; i++) if ((await ctx.cache.get('k' + (i % 10))) !== null) hits++
    return new Response(String(hits))
  },
}`
/** A noisy tenant spinning until its CPU limit ends the run. */
const SPIN = `export default { fetch() { for (;;) {} } }`

export interface NoisyNeighbourOptions {
  /** The server's ISOGATE_RUNNERS: the noisy tenants are placed on the victim's runner. */
  runners: number
  /** The victim's connections, and the noisy tenant's. */
  connections: number
  noisyConnections: number
  seconds: number
  /** The spinning tenant's CPU limit (ms). */
  spinCpuMs: number
}

export type NoisyRow = Measurement & { victimP99Ratio?: number }

/**
 * A victim tenant (hello) alone, then beside a co-located noisy tenant on its runner: one making
 * 100 host calls a run, one spinning its CPU limit. Rows `victim-alone`, `victim-beside-host-calls`
 * and `victim-beside-cpu`, the last two with the victim's p99 over its p99 alone (target <= 2x).
 */
export async function noisyNeighbour(server: BenchServer, deploy: Deployer, options: NoisyNeighbourOptions): Promise<NoisyRow[]> {
  // Co-located: the same runner, and the same worker thread in it (the server runs the default
  // ISOGATE_WORKERS, one thread per core of this machine).
  const threads = os.availableParallelism()
  const home = (tenantId: string): string => `${rank(tenantId, options.runners)[0] ?? 0}/${threadRank(tenantId, threads)[0] ?? 0}`
  const victim = await deploy.deploy('noisy-victim', SCRIPTS.hello)
  const beside = async (prefix: string, source: string, fields: Record<string, unknown> = {}): Promise<string> => {
    for (let i = 0; i < 80; i++) {
      const slug = `${prefix}-${i}`
      const { tenantId } = await deploy.deploy(slug, source, fields)
      if (home(tenantId) === home(victim.tenantId)) return slug
    }
    throw new Error(`no ${prefix} tenant on the victim's runner and thread`)
  }
  const hostCalls = await beside('noisy-cache', HOST_CALLS)
  const spin = await beside('noisy-spin', SPIN, { limits: { cpuMs: options.spinCpuMs, timeoutMs: options.spinCpuMs * 10 } })
  const port = server.port
  for (const tenant of ['noisy-victim', hostCalls]) await fetch(`http://127.0.0.1:${port}/${tenant}/run`).then((r) => r.text())

  const { connections, seconds } = options
  const victimLoad = (): ReturnType<typeof load> => load(server, { port, paths: ['/noisy-victim/run'], connections, seconds })
  const alone = await victimLoad()
  const rows: NoisyRow[] = [{ scenario: 'victim-alone', ...alone }]
  for (const [name, noisy] of [['host-calls', hostCalls], ['cpu', spin]] as const) {
    // The noisy load starts first and outlasts the victim's: the steady state, not the ramp.
    const [measured] = await Promise.all([
      delay(500).then(victimLoad),
      load(server, { port, paths: [`/${noisy}/run`], connections: options.noisyConnections, seconds: seconds + 1 }),
    ])
    rows.push({ scenario: `victim-beside-${name}`, ...measured, victimP99Ratio: measured.p99 / Math.max(alone.p99, 1) })
  }
  return rows
}
