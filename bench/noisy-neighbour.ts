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
/**
 * A noisy tenant spinning until its CPU limit ends the run. Its failures soon open its circuit
 * breaker, and from then on most of its requests are answered 503 at once: beside it, the victim
 * shares the machine with a flood of cheap rejections more than with the spinning.
 */
const SPIN = `export default { fetch() { for (;;) {} } }`
/** A noisy tenant whose every run spends most of its CPU limit and succeeds: CPU, and no breaker. */
const CPU_HEAVY = (ms: number): string => `export default { fetch() { const end = Date.now() + ${ms}; while (Date.now() < end); return new Response('spun') } }`
/**
 * A noisy tenant whose runs are short (they earn synchronous first steps on their thread) until
 * a request asks it to spin for `SUDDEN_SPIN_MS`: that step holds the thread.
 */
const SUDDEN_SPIN_MS = 1000
const SUDDEN = `export default { fetch(request) {
  if (new URL(request.url).searchParams.has('spin')) { const end = Date.now() + ${SUDDEN_SPIN_MS}; while (Date.now() < end); }
  return new Response('done')
} }`

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

export type NoisyRow = Measurement & { victimP99Ratio?: number; victimMaxMs?: number }

/**
 * A victim tenant (hello) alone, then beside a co-located noisy tenant on its runner: one making
 * 100 host calls a run, one spinning its CPU limit. Rows `victim-alone`, `victim-beside-host-calls`
 * and `victim-beside-cpu`, the last two with the victim's p99 over its p99 alone (target <= 2x);
 * `victim-beside-cpu-heavy` the same beside a tenant whose runs each spin 80% of their CPU limit
 * and succeed (its CPU share of the thread is bounded: runner/process/cpu-shares.ts).
 * Then `victim-beside-sudden-spin`: a neighbour on the victim's thread whose short runs earned
 * synchronous steps spins 1 s in one, holding the thread; the row's `victimMaxMs` is the victim's
 * slowest request (issue 20: held no longer than about 50 ms, not for the spin).
 */
export async function noisyNeighbour(server: BenchServer, deploy: Deployer, options: NoisyNeighbourOptions): Promise<NoisyRow[]> {
  // Co-located: the same runner, and for a server whose runners have worker threads (bench/run.ts
  // runs one with a thread per core of this machine) the same thread in it. Runners without worker
  // threads (the default) run every tenant on one thread: the thread's rank then only narrows the pick.
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
  const heavy = await beside('noisy-heavy', CPU_HEAVY(Math.round(options.spinCpuMs * 0.8)), { limits: { cpuMs: options.spinCpuMs, timeoutMs: options.spinCpuMs * 10 } })
  const port = server.port
  for (const tenant of ['noisy-victim', hostCalls]) await fetch(`http://127.0.0.1:${port}/${tenant}/run`).then((r) => r.text())

  const { connections, seconds } = options
  const victimLoad = (): ReturnType<typeof load> => load(server, { port, paths: ['/noisy-victim/run'], connections, seconds })
  const alone = await victimLoad()
  const rows: NoisyRow[] = [{ scenario: 'victim-alone', ...alone }]
  for (const [name, noisy] of [['host-calls', hostCalls], ['cpu', spin], ['cpu-heavy', heavy]] as const) {
    // The noisy load starts first and outlasts the victim's: the steady state, not the ramp.
    const [measured] = await Promise.all([
      delay(500).then(victimLoad),
      load(server, { port, paths: [`/${noisy}/run`], connections: options.noisyConnections, seconds: seconds + 1 }),
    ])
    rows.push({ scenario: `victim-beside-${name}`, ...measured, victimP99Ratio: measured.p99 / Math.max(alone.p99, 1) })
  }
  const sudden = await beside('noisy-sudden', SUDDEN, { limits: { cpuMs: 4 * SUDDEN_SPIN_MS, timeoutMs: 5 * SUDDEN_SPIN_MS } })
  // A cold run, then enough hot ones to earn synchronous first steps (runner/thread/step-costs.ts).
  for (let i = 0; i < 12; i++) await fetch(`http://127.0.0.1:${port}/${sudden}/run`).then((r) => r.text())
  const [measured] = await Promise.all([
    victimLoad(),
    delay(Math.min(500, (seconds * 1000) / 4)).then(() => fetch(`http://127.0.0.1:${port}/${sudden}/run?spin`).then((r) => r.text())),
  ])
  rows.push({ scenario: 'victim-beside-sudden-spin', ...measured, victimP99Ratio: measured.p99 / Math.max(alone.p99, 1), victimMaxMs: measured.max })
  return rows
}
