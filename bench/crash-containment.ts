import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { rank } from '../runner/index.js'
import { load, type Measurement } from './load.js'
import { SCRIPTS, type Deployer } from './scenarios.js'
import type { BenchServer } from './servers.js'

export interface CrashContainmentOptions {
  /** The server's ISOGATE_RUNNERS: tenants' home runners are computed as the gateway does. */
  runners: number
  /** Ordinary tenants under load on the crashers' runner, and as many on the others. */
  tenants: number
  /** Fresh crashers, each crashing its (shared) runner once: after that it runs on probation. */
  crashers: number
  connections: number
  seconds: number
}

/** A row of the scenario: a load over one group, with what the crashes cost it. */
export type ContainmentRow = Measurement & {
  /** Shared-runner crashes caused during the load (one per fresh crasher). */
  crashes: number
  /** The longest a probe of the group went without a 2xx answer: time to first success after a crash, at most. */
  maxGapMs: number
  /** The same, with no crash (the load alone). */
  calmMaxGapMs: number
}

/**
 * A runner crash under load, as seen by ordinary tenants on the crashed runner (`neighbours`)
 * and on the other runners (`others`). Each crasher is a fresh tenant homed on the neighbours'
 * runner, so its first crash lands there (its retry and later runs go to the probation runner:
 * that is the containment being measured). Rows `neighbours-crashing@N` and `others-crashing@N`:
 * their errors and non-2xx (target 0: runs lost to the crash run again), and `maxGapMs`, the
 * longest a sequential probe of the group waited for a 2xx (target: within 100 ms of the crash).
 */
export async function crashContainmentUnderLoad(server: BenchServer, deploy: Deployer, options: CrashContainmentOptions): Promise<ContainmentRow[]> {
  const home = (tenantId: string): number => rank(tenantId, options.runners)[0] ?? 0
  const crashers: string[] = []
  let shared = -1
  for (let i = 0; crashers.length < options.crashers; i++) {
    if (i >= options.crashers * 20) throw new Error(`no ${options.crashers} crashers on one runner in ${i} tries`)
    const slug = `contain-crasher-${i}`
    const { tenantId } = await deploy.deploy(slug, SCRIPTS.crash, { limits: { memoryMb: 16 } })
    // A 16 MB isolate, where the bomb aborts V8 and its runner (the isolate's heap is the tenant's memory quota).
    await deploy.quota(slug, { memoryMb: 16 })
    if (shared === -1) shared = home(tenantId)
    if (home(tenantId) === shared) crashers.push(slug)
  }
  const neighbours: string[] = []
  const others: string[] = []
  for (let i = 0; neighbours.length < options.tenants || others.length < options.tenants; i++) {
    if (i >= options.tenants * 40) throw new Error(`no ${options.tenants} tenants on each side in ${i} tries`)
    const slug = `contain-${i}`
    const { tenantId } = await deploy.deploy(slug, SCRIPTS.hello)
    const group = home(tenantId) === shared ? neighbours : others
    if (group.length < options.tenants) group.push(slug)
  }
  const url = (tenant: string): string => `http://127.0.0.1:${server.port}/${tenant}/run`
  for (const tenant of [...neighbours, ...others]) await fetch(url(tenant)).then((r) => r.text())

  const { connections, seconds } = options
  const measure = async (tenants: string[], crashUrls: string[]): Promise<{ measured: Omit<Measurement, 'scenario'>; gap: number; crashes: number }> => {
    const until = performance.now() + seconds * 1000
    const [measured, gap, crashes] = await Promise.all([
      load(server, { port: server.port, paths: tenants.map((t) => `/${t}/run`), connections, seconds }),
      probe(url(tenants[0] as string), until),
      crashUrls.length === 0 ? Promise.resolve(0) : crashLoop(crashUrls, seconds * 1000),
    ])
    return { measured, gap, crashes }
  }
  const rows: ContainmentRow[] = []
  const half = Math.ceil(options.crashers / 2)
  for (const [name, tenants] of [['neighbours', neighbours], ['others', others]] as const) {
    const calm = await measure(tenants, [])
    // Each group gets crashers of its own: a crasher crashes the shared runner only once.
    const stormy = await measure(tenants, crashers.splice(0, half).map(url))
    rows.push({ scenario: `${name}-crashing@${connections}`, ...stormy.measured, crashes: stormy.crashes, maxGapMs: stormy.gap, calmMaxGapMs: calm.gap })
  }
  return rows
}

/**
 * The probe, as the source of a worker thread: it requests `url` one at a time until `until` (a
 * `performance.timeOrigin`-based time) and posts the longest wait between two 2xx answers. In a
 * thread of its own its timings are the server's, not the turns of the event loop where the
 * bench's load generator runs (measured: 40-70 ms of a calm gap was that loop's lag).
 */
const PROBE_SOURCE = `
const { parentPort, workerData: { url, until } } = require('node:worker_threads')
;(async () => {
  const now = () => performance.timeOrigin + performance.now()
  // From the first answer: the thread's own start (loading fetch) is not the server's doing.
  let last = null
  let longest = 0
  while (now() < until) {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(() => null)
    await response?.text()
    if (response?.ok !== true) continue
    if (last !== null) longest = Math.max(longest, now() - last)
    last = now()
  }
  parentPort.postMessage(longest)
})()
`

/** Requests `url` one at a time until `until` (performance.now()); answers the longest wait between two 2xx answers. */
async function probe(url: string, until: number): Promise<number> {
  const worker = new Worker(PROBE_SOURCE, { eval: true, workerData: { url, until: performance.timeOrigin + until } })
  try {
    return await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`the probe thread exited with ${code}`)))
    })
  } finally {
    await worker.terminate()
  }
}

/**
 * Has each crasher abort its runner once, spread over `forMs` (the first at 0.5 s); resolves to
 * the crashes caused (answers 503 RUNNER_CRASHED).
 */
async function crashLoop(urls: string[], forMs: number): Promise<number> {
  const start = performance.now()
  const every = Math.max(500, (forMs - 1000) / Math.max(urls.length, 1))
  let crashes = 0
  for (const [index, url] of urls.entries()) {
    const at = 500 + index * every
    if (at >= forMs) break
    await sleep(Math.max(0, start + at - performance.now()))
    const response = await fetch(url, { signal: AbortSignal.timeout(30_000) })
    const body = (await response.json().catch(() => null)) as { error?: { code?: string } } | null
    if (response.status === 503 && body?.error?.code === 'RUNNER_CRASHED') crashes++
  }
  return crashes
}
