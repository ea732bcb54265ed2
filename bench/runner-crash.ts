import { setTimeout as sleep } from 'node:timers/promises'
import { rank } from '../runner/index.js'
import { load, type Measurement } from './load.js'
import { SCRIPTS, type Deployer } from './scenarios.js'
import type { BenchServer } from './servers.js'

export interface RunnerCrashOptions {
  /** The server's ISOGATE_RUNNERS: tenants' home runners are computed as the gateway does. */
  runners: number
  /** Ordinary tenants under load, all on runners other than the crasher's. */
  bystanders: number
  connections: number
  seconds: number
  /** Time between two crashes (the first comes half a second into the load). */
  crashEveryMs: number
}

/**
 * A runner crash under load: a steady load over ordinary tenants whose home runner is not the
 * crasher's, once alone and once while a side loop has the crasher abort its runner every
 * `crashEveryMs`. Two rows: `bystanders@N` and `bystanders-crashing@N`, the second with the
 * crashes caused and its throughput over the first's. The bystanders' errors and non-2xx are the
 * containment: a crash must reach only the runs on its own runner.
 */
export async function runnerCrashUnderLoad(server: BenchServer, deploy: Deployer, options: RunnerCrashOptions): Promise<Measurement[]> {
  const home = (tenantId: string): number => rank(tenantId, options.runners)[0] ?? 0
  const crasher = await deploy.deploy('crasher', SCRIPTS.crash, { limits: { memoryMb: 16 } })
  // A 16 MB isolate, where the bomb aborts V8 and its runner (the isolate's heap is the tenant's memory quota).
  await deploy.quota('crasher', { memoryMb: 16 })
  // Tenant ids are generated: deploy tenants until enough live on another runner.
  const bystanders: string[] = []
  for (let i = 0; bystanders.length < options.bystanders; i++) {
    if (i >= options.bystanders * 20) throw new Error(`no ${options.bystanders} tenants away from the crasher's runner in ${i} tries`)
    const slug = `bystander-${i}`
    const { tenantId } = await deploy.deploy(slug, SCRIPTS.hello)
    if (home(tenantId) !== home(crasher.tenantId)) bystanders.push(slug)
  }
  const url = (tenant: string): string => `http://127.0.0.1:${server.port}/${tenant}/run`
  for (const tenant of bystanders) await fetch(url(tenant)).then((r) => r.text())

  const paths = bystanders.map((t) => `/${t}/run`)
  const { connections, seconds } = options
  const calm = await load(server, { port: server.port, paths, connections, seconds })
  const [stormy, crashes] = await Promise.all([
    load(server, { port: server.port, paths, connections, seconds }),
    crashLoop(url('crasher'), seconds * 1000, options.crashEveryMs),
  ])
  return [
    { scenario: `bystanders@${connections}`, ...calm, crashes: 0 },
    { scenario: `bystanders-crashing@${connections}`, ...stormy, crashes, ...(crashes > 0 ? { ratioToNoCrash: stormy.rps / calm.rps } : {}) },
  ]
}

/**
 * Requests the crasher at 0.5 s, then every `everyMs`, within `forMs`; resolves to the runner
 * crashes it caused (answers 503 RUNNER_CRASHED). Any other answer, such as a quarantine, is not
 * counted, so a verdict never credits a crash that did not happen.
 */
async function crashLoop(url: string, forMs: number, everyMs: number): Promise<number> {
  const start = performance.now()
  let crashes = 0
  for (let at = 500; at < forMs; at += everyMs) {
    await sleep(Math.max(0, start + at - performance.now()))
    // 30 s, as crash-containment.ts: the answer comes after the retry crashed the probation runner
    // too, which on a loaded 2-core machine (CI runs two test files at once) took over 10 s.
    const response = await fetch(url, { signal: AbortSignal.timeout(30_000) })
    // A body that is not JSON is not the gateway's crash answer: it counts as no crash.
    const body = (await response.json().catch(() => null)) as { error?: { code?: string } } | null
    if (response.status === 503 && body?.error?.code === 'RUNNER_CRASHED') crashes++
  }
  return crashes
}
