/**
 * `npm run bench [-- --quick | --smoke]`: load scenarios against a fresh isogate and, in the
 * same run, a raw uWebSockets.js baseline; numbers as ratios to the baseline, a runner crash
 * under load, and the runner's cold, warm and hot start latencies (bench/runner-bench.ts); verdicts
 * against bench/slo.json, a JSON and a markdown report in bench/results/. Loopback only; every
 * load is bounded in time and connections.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { load, type Measurement } from './load.js'
import { report, type Mode } from './report.js'
import { runnerCrashUnderLoad } from './runner-crash.js'
import { ECHO_BODY, SCRIPTS, deployer } from './scenarios.js'
import { startBaseline, startIsogateServer } from './servers.js'
import { measureStarts, type StartMeasurement } from './start-latency.js'

interface Plan {
  seconds: number
  connections: number[]
  tenants: number
  /** The runner crash scenario: each of its two loads, and the connections over its bystanders. */
  crash: { seconds: number; connections: number }
  /** bench/runner-bench.ts `--runs` and `--tenants` (at least 100). */
  starts: { runs: number; tenants: number }
}

// Quick stays under 90 s with the build on a 2-core machine: 14 loads of 2.5 s, two of 4 s.
const MODES: Record<Mode, Plan> = {
  full: { seconds: 10, connections: [100, 1000], tenants: 1000, crash: { seconds: 20, connections: 100 }, starts: { runs: 1000, tenants: 1000 } },
  quick: { seconds: 2.5, connections: [100, 1000], tenants: 100, crash: { seconds: 4, connections: 100 }, starts: { runs: 100, tenants: 100 } },
  smoke: { seconds: 1, connections: [10], tenants: 5, crash: { seconds: 1, connections: 10 }, starts: { runs: 10, tenants: 100 } },
}

/** The server's runner processes, set here so the crash scenario can place tenants as the gateway does. */
const RUNNERS = 2

async function main(mode: Mode): Promise<void> {
  const plan = MODES[mode]
  const results: Measurement[] = []
  // Start latencies first, on a machine the load servers do not share yet.
  const { starts, rss, raw: runnerBench } = await measureStarts(plan.starts.runs, plan.starts.tenants)
  const baseline = await startBaseline()
  // The crash scenario measures containment, not quarantine: a crasher quarantined after its
  // third crash (the default) would stop crashing, so no tenant is quarantined here.
  const isogate = await startIsogateServer({ ISOGATE_RUNNERS: String(RUNNERS), ISOGATE_QUARANTINE_CRASHES: '1000000' })
  try {
    const deploy = deployer(isogate.adminPort, isogate.token)
    await deploy.deploy('hello', SCRIPTS.hello)
    await deploy.deploy('echo', SCRIPTS.echo)
    await deploy.deploy('cpu', SCRIPTS.cpu)
    await deploy.deploy('quiet', SCRIPTS.hello)
    await deploy.deploy('flood', SCRIPTS.hello)
    await deploy.deploy('cache', SCRIPTS.cache)
    const seeded = await cachedAnswer(isogate.port)
    const tenants = Array.from({ length: plan.tenants }, (_, i) => `t${i}`)
    for (const tenant of tenants) await deploy.deploy(tenant, SCRIPTS.hello)
    // Warm every isolate once, so the round robin measures warm tenants.
    for (const tenant of tenants) await fetch(`http://127.0.0.1:${isogate.port}/${tenant}/run`).then((r) => r.text())
    // And the server's own code: the first scenario should not measure its JIT warming up.
    await load(isogate, { port: isogate.port, paths: ['/hello/run'], connections: 50, seconds: mode === 'smoke' ? 0.5 : 1.5 })

    const seconds = plan.seconds
    for (const connections of plan.connections) {
      const base = await load(baseline, { port: baseline.port, paths: ['/'], connections, seconds })
      results.push({ scenario: `baseline@${connections}`, ...base })
      const hello = await load(isogate, { port: isogate.port, paths: ['/hello/run'], connections, seconds })
      results.push({ scenario: `hello@${connections}`, ...hello, ratioRps: hello.rps / base.rps, ratioCpu: hello.cpuMicrosPerRequest / base.cpuMicrosPerRequest })
      const echo = await load(isogate, { port: isogate.port, paths: ['/echo/run'], connections, seconds, method: 'POST', body: ECHO_BODY })
      results.push({ scenario: `echo@${connections}`, ...echo, ratioRps: echo.rps / base.rps })
      const cpu = await load(isogate, { port: isogate.port, paths: ['/cpu/run'], connections, seconds })
      results.push({ scenario: `cpu@${connections}`, ...cpu, ratioRps: cpu.rps / base.rps })
      const many = await load(isogate, { port: isogate.port, paths: tenants.map((t) => `/${t}/run`), connections, seconds })
      results.push({ scenario: `tenants@${connections}`, ...many, ratioRps: many.rps / base.rps, ratioToHello: many.rps / hello.rps })
      const cache = await load(isogate, { port: isogate.port, paths: ['/cache/run'], connections, seconds })
      if ((await cachedAnswer(isogate.port)) !== seeded) throw new Error('cache scenario: ctx.cache lost the seeded value, so the load may have measured misses')
      results.push({ scenario: `cache@${connections}`, ...cache, ratioRps: cache.rps / base.rps, ratioToHello: cache.rps / hello.rps })
    }

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
  } finally {
    await isogate.stop()
    await baseline.stop()
  }
  report({ mode, loads: results, starts, rss, runnerBench })
  // Every scenario's requests should succeed: a load answered with error statuses measured the
  // wrong thing (an open circuit breaker answers fast), whatever its numbers say. Timeouts and
  // socket errors are load, judged by the targets; a CI machine may be slow.
  const answeredWrong = results.filter((r) => r.non2xx > 0)
  if (answeredWrong.length > 0) throw new Error(`scenarios answered with non-2xx: ${answeredWrong.map((r) => `${r.scenario} (${r.non2xx})`).join(', ')}`)
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
