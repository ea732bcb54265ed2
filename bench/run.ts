/**
 * `npm run bench [-- --quick | --smoke]`: load scenarios against a fresh isogate and, in the
 * same run, a raw uWebSockets.js baseline and Cloudflare's workerd serving the same hello worker
 * (workerd@N rows alternating with isogate's hello@N, and isogate/workerd ratios); numbers as
 * ratios to the baseline and to workerd, a runner crash
 * under load, and the runner's cold, warm and hot start latencies (bench/runner-bench.ts); verdicts
 * against bench/slo.json, a JSON and a markdown report in bench/results/. Loopback only; every
 * load is bounded in time and connections.
 */
import os from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { load, type Measurement } from './load.js'
import { percentile } from './percentile.js'
import { report, statusText, type Mode, type RoundTrip } from './report.js'
import { runnerCrashUnderLoad } from './runner-crash.js'
import { containmentScenarios } from './containment-scenarios.js'
import { ECHO_BODY, SCRIPTS, deployer } from './scenarios.js'
import { startBaseline, startIsogateServer } from './servers.js'
import { startWorkerd } from './workerd-server.js'
import { measureStarts, type StartMeasurement } from './start-latency.js'
import { settings } from '../config/index.js'

interface Plan {
  seconds: number
  connections: number[]
  tenants: number
  /** The runner crash scenario: each of its two loads, and the connections over its bystanders. */
  crash: { seconds: number; connections: number }
  /** bench/runner-bench.ts `--runs` and `--tenants` (at least 100). */
  starts: { runs: number; tenants: number }
  /** workerd / isogate hello pairs per connection count (each load `seconds` long). */
  workerdRounds: number
  /** A server's code warmed up before its first measured load (s). */
  warmSeconds: number
}

// Quick takes about four minutes on a 2-core machine, most of it the containment scenarios (twice,
// on the default server and on the one without worker threads) and the runner bench.
const MODES: Record<Mode, Plan> = {
  full: { seconds: 10, connections: [100, 1000], tenants: 1000, crash: { seconds: 20, connections: 100 }, starts: { runs: 1000, tenants: 1000 }, workerdRounds: 2, warmSeconds: 1.5 },
  quick: { seconds: 2.5, connections: [100, 1000], tenants: 100, crash: { seconds: 4, connections: 100 }, starts: { runs: 100, tenants: 100 }, workerdRounds: 1, warmSeconds: 1.5 },
  // Smoke proves every scenario runs and reports its row (the test suite runs it): loads of half a
  // second, the crash loads just long enough for their one crash (at 0.5 s).
  smoke: { seconds: 0.5, connections: [10], tenants: 5, crash: { seconds: 0.75, connections: 10 }, starts: { runs: 10, tenants: 100 }, workerdRounds: 1, warmSeconds: 0.25 },
}

/**
 * What spreading load over many tenants costs workerd, for the many-tenant row's target: the same
 * hello in `tenants` workers of their own behind a router worker, all connections on `t0`
 * (workerd-routed) against each connection going round the tenants (workerd-tenants, its
 * `ratioToHello` the spread's req/s over the routed one), alternating. The router adds an isolate
 * entry to every request, so workerd's routed row is not its hello@N row.
 */
async function workerdTenants(plan: Plan, tenants: number, connections: number): Promise<Measurement[]> {
  const server = await startWorkerd(SCRIPTS.hello, { tenants })
  try {
    const paths = Array.from({ length: tenants }, (_, i) => `/t${i}/`)
    // Every tenant's isolate once, and the router's code, before anything is measured.
    for (const path of paths) await fetch(`http://127.0.0.1:${server.port}${path}`).then((r) => r.text())
    await load(server, { port: server.port, paths: ['/t0/'], connections: 50, seconds: plan.warmSeconds })
    const pairs: Array<{ routed: Omit<Measurement, 'scenario'>; spread: Omit<Measurement, 'scenario'> }> = []
    for (let round = 0; round < plan.workerdRounds; round++) {
      const routed = await load(server, { port: server.port, paths: ['/t0/'], connections, seconds: plan.seconds })
      const spread = await load(server, { port: server.port, paths, connections, seconds: plan.seconds, spread: true })
      pairs.push({ routed, spread })
    }
    const routed = combine(pairs.map((pair) => pair.routed))
    const spread = combine(pairs.map((pair) => pair.spread))
    return [
      { scenario: `workerd-routed@${connections}`, ...routed },
      { scenario: `workerd-tenants@${connections}`, ...spread, ratioToHello: spread.rps / routed.rps },
    ]
  } finally {
    await server.stop()
  }
}

/** The server's runner processes, set here so the crash scenario can place tenants as the gateway does. */
const RUNNERS = 2
/** Worker threads a runner of the second isogate server has: one per core, as ISOGATE_WORKERS defaulted to before 0. */
const THREADS = Math.max(1, os.availableParallelism())

async function main(mode: Mode): Promise<void> {
  const plan = MODES[mode]
  const results: Measurement[] = []
  const roundTrips: RoundTrip[] = []
  // Start latencies first, on a machine the load servers do not share yet.
  const { starts, rss, spread, raw: runnerBench } = await measureStarts(plan.starts.runs, plan.starts.tenants)
  const baseline = await startBaseline()
  const workerd = await startWorkerd(SCRIPTS.hello)
  // The crash scenario measures containment, not quarantine: a crasher quarantined after its
  // third crash (the default) would stop crashing, so no tenant is quarantined here.
  // The product's defaults: runners without worker threads (runner/process/inline-pool.ts).
  const isogate = await startIsogateServer({ ISOGATE_RUNNERS: String(RUNNERS), ISOGATE_QUARANTINE_CRASHES: '1000000' })
  // The same hello on runners with a worker thread per core (ISOGATE_WORKERS), alternating with
  // the two above: what the hop to a worker thread costs, side by side.
  const threads = await startIsogateServer({ ISOGATE_RUNNERS: String(RUNNERS), ISOGATE_QUARANTINE_CRASHES: '1000000', ISOGATE_WORKERS: String(THREADS) })
  try {
    await deployer(threads.adminPort, threads.token).deploy('hello', SCRIPTS.hello)
    await load(threads, { port: threads.port, paths: ['/hello/run'], connections: 50, seconds: plan.warmSeconds })
    const deploy = deployer(isogate.adminPort, isogate.token)
    await deploy.deploy('hello', SCRIPTS.hello)
    await deploy.deploy('echo', SCRIPTS.echo)
    await deploy.deploy('cpu', SCRIPTS.cpu)
    await deploy.deploy('quiet', SCRIPTS.hello)
    await deploy.deploy('flood', SCRIPTS.hello)
    await deploy.deploy('cache', SCRIPTS.cache)
    await deploy.deploy('cacheseq', SCRIPTS.cacheRoundTrips)
    const seeded = await cachedAnswer(isogate.port)
    const tenants = Array.from({ length: plan.tenants }, (_, i) => `t${i}`)
    for (const tenant of tenants) await deploy.deploy(tenant, SCRIPTS.hello)
    // Warm every isolate once, so the round robin measures warm tenants.
    for (const tenant of tenants) await fetch(`http://127.0.0.1:${isogate.port}/${tenant}/run`).then((r) => r.text())
    // And the server's own code: the first scenario should not measure its JIT warming up.
    await load(isogate, { port: isogate.port, paths: ['/hello/run'], connections: 50, seconds: plan.warmSeconds })
    await load(workerd, { port: workerd.port, paths: ['/'], connections: 50, seconds: plan.warmSeconds })
    // Many tenants, each connection at its own tenant in turn (a client per tenant, not every
    // connection on one tenant and then all on the next, which is the fairness scenario's flood
    // moving from tenant to tenant). A new version's first runs are recorded in full
    // (ISOGATE_RECORD_FIRST_RUNS) where hello's, long spent, are sampled: tenants-new@N measures
    // the tenants in their first runs; then they are driven past them, and tenants@N compares with
    // hello at the same recording.
    const tenantPaths = tenants.map((tenant) => `/${tenant}/run`)
    const firstConnections = plan.connections[0] as number
    const fresh = await load(isogate, { port: isogate.port, paths: tenantPaths, connections: firstConnections, seconds: plan.seconds, spread: true })
    results.push({ scenario: `tenants-new@${firstConnections}`, ...fresh })
    const firstRunsLeft = tenants.length * settings.recordFirstRuns.default - fresh.requests
    // autocannon refuses more connections than requests: a fast first load leaves fewer than 100.
    if (firstRunsLeft > 0) await load(isogate, { port: isogate.port, paths: tenantPaths, connections: Math.min(firstConnections, firstRunsLeft), seconds: plan.seconds, amount: firstRunsLeft, spread: true })

    const seconds = plan.seconds
    for (const connections of plan.connections) {
      const base = await load(baseline, { port: baseline.port, paths: ['/'], connections, seconds })
      results.push({ scenario: `baseline@${connections}`, ...base })
      // workerd and isogate's hello alternate (workerd, hello, hello with worker threads,
      // workerd, ...): the ratios compare loads that ran side by side on a machine whose spare
      // capacity drifts.
      const pairs: Array<{ workerd: Omit<Measurement, 'scenario'>; hello: Omit<Measurement, 'scenario'>; threads: Omit<Measurement, 'scenario'> }> = []
      for (let round = 0; round < plan.workerdRounds; round++) {
        const w = await load(workerd, { port: workerd.port, paths: ['/'], connections, seconds })
        const h = await load(isogate, { port: isogate.port, paths: ['/hello/run'], connections, seconds })
        const t = await load(threads, { port: threads.port, paths: ['/hello/run'], connections, seconds })
        pairs.push({ workerd: w, hello: h, threads: t })
      }
      const worker = combine(pairs.map((pair) => pair.workerd))
      const hello = combine(pairs.map((pair) => pair.hello))
      const helloThreads = combine(pairs.map((pair) => pair.threads))
      results.push({ scenario: `workerd@${connections}`, ...worker, ratioRps: worker.rps / base.rps, ratioCpu: worker.cpuMicrosPerRequest / base.cpuMicrosPerRequest })
      // An isogate hello against the baseline and against workerd's loads of the same rounds.
      const versus = (scenario: string, measured: Omit<Measurement, 'scenario'>): Measurement => ({
        scenario,
        ...measured,
        ratioRps: measured.rps / base.rps,
        ratioCpu: measured.cpuMicrosPerRequest / base.cpuMicrosPerRequest,
        ratioToWorkerd: measured.rps / worker.rps,
        cpuRatioToWorkerd: measured.cpuMicrosPerRequest / worker.cpuMicrosPerRequest,
        p99RatioToWorkerd: measured.p99 / Math.max(worker.p99, 1),
      })
      results.push(versus(`hello@${connections}`, hello), versus(`hello-threads@${connections}`, helloThreads))
      const echo = await load(isogate, { port: isogate.port, paths: ['/echo/run'], connections, seconds, method: 'POST', body: ECHO_BODY })
      results.push({ scenario: `echo@${connections}`, ...echo, ratioRps: echo.rps / base.rps })
      const cpu = await load(isogate, { port: isogate.port, paths: ['/cpu/run'], connections, seconds })
      results.push({ scenario: `cpu@${connections}`, ...cpu, ratioRps: cpu.rps / base.rps })
      const many = await load(isogate, { port: isogate.port, paths: tenantPaths, connections, seconds, spread: true })
      results.push({ scenario: `tenants@${connections}`, ...many, ratioRps: many.rps / base.rps, ratioToHello: many.rps / hello.rps })
      if (connections === firstConnections) results.push(...(await workerdTenants(plan, tenants.length, connections)))
      const cache = await load(isogate, { port: isogate.port, paths: ['/cache/run'], connections, seconds })
      if ((await cachedAnswer(isogate.port)) !== seeded) throw new Error('cache scenario: ctx.cache lost the seeded value, so the load may have measured misses')
      results.push({ scenario: `cache@${connections}`, ...cache, ratioRps: cache.rps / base.rps, ratioToHello: cache.rps / hello.rps })
    }

    roundTrips.push(await cacheRoundTrip(isogate.port, mode === 'smoke' ? 5 : 30))

    // The quiet tenant is measured once the flood is under way (its 500 connections opened and
    // queued), for as long as alone, and the flood lasts past it: the steady state, not the ramp.
    // At least 4 s each in quick mode: a p99 of 10 connections over 2.5 s is a handful of requests.
    const ramp = mode === 'smoke' ? 0.2 : 1
    const fairSeconds = mode === 'smoke' ? seconds : Math.max(seconds, 4)
    const quietAlone = await load(isogate, { port: isogate.port, paths: ['/quiet/run'], connections: 10, seconds: fairSeconds })
    const [quiet, flood] = await Promise.all([
      delay(ramp * 1000).then(() => load(isogate, { port: isogate.port, paths: ['/quiet/run'], connections: 10, seconds: fairSeconds })),
      load(isogate, { port: isogate.port, paths: ['/flood/run'], connections: mode === 'smoke' ? 50 : 500, seconds: fairSeconds + 2 * ramp }),
    ])
    results.push({ scenario: 'quiet-alone', ...quietAlone })
    results.push({ scenario: 'flood', ...flood })
    results.push({ scenario: 'fairness', ...quiet, quietP99Ratio: quiet.p99 / Math.max(quietAlone.p99, 1) })

    // Last: it restarts runners, which the scenarios above should not see.
    results.push(...(await runnerCrashUnderLoad(isogate, deploy, { runners: RUNNERS, bystanders: 4, crashEveryMs: 2500, ...plan.crash })))
    results.push(...(await containmentScenarios(mode, isogate, deploy, RUNNERS)))
    // The same on runners with worker threads (the shard's slot shares and CPU gate, a held
    // thread's runs moved to another thread). Reported, not judged.
    const threadsContainment = await containmentScenarios(mode, threads, deployer(threads.adminPort, threads.token), RUNNERS)
    results.push(...threadsContainment.map((row) => ({ ...row, scenario: `threads-${row.scenario}` })))
  } finally {
    await isogate.stop()
    await threads.stop()
    await workerd.stop()
    await baseline.stop()
  }
  report({ mode, loads: results, starts, rss, spread, runnerBench, roundTrips })
  // Every scenario's requests should succeed: a load answered with error statuses measured the
  // wrong thing (an open circuit breaker answers fast), whatever its numbers say. Timeouts and
  // socket errors are load, judged by the targets; a CI machine may be slow.
  const answeredWrong = results.filter((r) => r.non2xx > 0)
  if (answeredWrong.length > 0) throw new Error(`scenarios answered with non-2xx: ${answeredWrong.map((r) => `${r.scenario}: ${statusText(r)}`).join(', ')}`)
}

/** Loads of one scenario run in turns, as one row: requests and CPU summed, latencies the worst turn's. */
function combine(loads: Array<Omit<Measurement, 'scenario'>>): Omit<Measurement, 'scenario'> {
  if (loads.length === 1) return loads[0] as Omit<Measurement, 'scenario'>
  const sum = (pick: (m: Omit<Measurement, 'scenario'>) => number): number => loads.reduce((total, m) => total + pick(m), 0)
  const requests = sum((m) => m.requests)
  return {
    connections: (loads[0] as Omit<Measurement, 'scenario'>).connections,
    rps: sum((m) => m.rps) / loads.length,
    p50: Math.max(...loads.map((m) => m.p50)),
    p97_5: Math.max(...loads.map((m) => m.p97_5)),
    p99: Math.max(...loads.map((m) => m.p99)),
    max: Math.max(...loads.map((m) => m.max)),
    errors: sum((m) => m.errors),
    non2xx: sum((m) => m.non2xx),
    statuses: addStatuses(loads.map((m) => m.statuses)),
    requests,
    cpuMicrosPerRequest: requests > 0 ? sum((m) => m.cpuMicrosPerRequest * m.requests) / requests : 0,
    rssBytes: Math.max(...loads.map((m) => m.rssBytes)),
  }
}

function addStatuses(all: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const statuses of all) for (const [status, count] of Object.entries(statuses)) out[status] = (out[status] ?? 0) + count
  return out
}

/**
 * One `ctx.cache.get` round trip (isolate -> worker thread -> runner process -> gateway and back),
 * sequential: runs that each make 90 calls in a row and time them inside the isolate (Date.now(),
 * so a run's figure is good to about 1 ms / 90); the median and p90 over `runs` runs, in µs.
 */
async function cacheRoundTrip(port: number, runs: number): Promise<RoundTrip> {
  const perCall: number[] = []
  for (let i = 0; i < runs; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/cacheseq/run`)
    const body = (await response.json()) as { ms: number; calls: number }
    if (response.status !== 200) throw new Error(`cache round trips: ${response.status} ${JSON.stringify(body)}`)
    perCall.push((body.ms * 1000) / body.calls)
  }
  perCall.sort((a, b) => a - b)
  return { scenario: 'cache-get-round-trip', medianUs: percentile(perCall, 0.5), p90Us: percentile(perCall, 0.9), runs }
}

/**
 * The cache scenario's answer, which carries the time its value was seeded: the same answer
 * before and after a load shows the load read the cached value rather than seeding it anew.
 */
async function cachedAnswer(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/cache/run`)
  const body = await response.text()
  if (response.status !== 200 || !body.includes('from ctx.cache')) throw new Error(`cache scenario: ${response.status} ${body}`)
  return body
}

const mode: Mode = process.argv.includes('--smoke') ? 'smoke' : process.argv.includes('--quick') ? 'quick' : 'full'
main(mode).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
