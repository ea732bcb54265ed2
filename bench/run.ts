/**
 * `npm run bench [-- --quick | --smoke]`: load scenarios against a fresh isogate and, in the
 * same run, a raw uWebSockets.js baseline; numbers as ratios to the baseline, verdicts against
 * bench/slo.json, a JSON and a markdown report in bench/results/. Loopback only; every load is
 * bounded in time and connections.
 */
import autocannon from 'autocannon'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ECHO_BODY, SCRIPTS, deployer } from './scenarios.js'
import { startBaseline, startIsogateServer, treeCpuMicros, treeRssBytes, type BenchServer } from './servers.js'

type Mode = 'full' | 'quick' | 'smoke'

export interface Measurement {
  scenario: string
  connections: number
  rps: number
  p50: number
  p97_5: number
  p99: number
  errors: number
  non2xx: number
  requests: number
  cpuMicrosPerRequest: number
  rssBytes: number
  ratioRps?: number
  ratioCpu?: number
  ratioToHello?: number
  quietP99Ratio?: number
}

interface LoadOptions {
  port: number
  paths: string[]
  connections: number
  seconds: number
  method?: string
  body?: string
}

const MODES: Record<Mode, { seconds: number; connections: number[]; tenants: number }> = {
  full: { seconds: 10, connections: [100, 1000], tenants: 1000 },
  quick: { seconds: 3, connections: [100, 1000], tenants: 100 },
  smoke: { seconds: 1, connections: [10], tenants: 5 },
}

async function load(server: BenchServer, options: LoadOptions): Promise<Omit<Measurement, 'scenario'>> {
  const cpuBefore = treeCpuMicros(server.pid)
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    duration: options.seconds,
    method: (options.method ?? 'GET') as 'GET',
    body: options.body,
    headers: options.body ? { 'content-type': 'application/json' } : {},
    requests: options.paths.map((p) => ({ path: p })),
    timeout: 10,
  })
  const cpu = treeCpuMicros(server.pid) - cpuBefore
  const requests = result.requests.total
  return {
    connections: options.connections,
    rps: result.requests.average,
    p50: result.latency.p50,
    p97_5: result.latency.p97_5,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests,
    cpuMicrosPerRequest: requests > 0 ? cpu / requests : 0,
    rssBytes: treeRssBytes(server.pid),
  }
}

async function main(mode: Mode): Promise<void> {
  const plan = MODES[mode]
  const results: Measurement[] = []
  const baseline = await startBaseline()
  const isogate = await startIsogateServer()
  try {
    const deploy = deployer(isogate.adminPort, isogate.token)
    await deploy.deploy('hello', SCRIPTS.hello)
    await deploy.deploy('echo', SCRIPTS.echo)
    await deploy.deploy('cpu', SCRIPTS.cpu)
    await deploy.deploy('quiet', SCRIPTS.hello)
    await deploy.deploy('flood', SCRIPTS.hello)
    const tenants = Array.from({ length: plan.tenants }, (_, i) => `t${i}`)
    for (const tenant of tenants) await deploy.deploy(tenant, SCRIPTS.hello)
    // Warm every isolate once, so the round robin measures warm tenants.
    for (const tenant of tenants) await fetch(`http://127.0.0.1:${isogate.port}/${tenant}/run`).then((r) => r.text())

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
    }

    const quietAlone = await load(isogate, { port: isogate.port, paths: ['/quiet/run'], connections: 10, seconds })
    const [quiet, flood] = await Promise.all([
      load(isogate, { port: isogate.port, paths: ['/quiet/run'], connections: 10, seconds }),
      load(isogate, { port: isogate.port, paths: ['/flood/run'], connections: mode === 'smoke' ? 50 : 500, seconds }),
    ])
    results.push({ scenario: 'quiet-alone', ...quietAlone })
    results.push({ scenario: 'flood', ...flood })
    results.push({ scenario: 'fairness', ...quiet, quietP99Ratio: quiet.p99 / Math.max(quietAlone.p99, 1) })
  } finally {
    await isogate.stop()
    await baseline.stop()
  }
  report(mode, results)
}

interface Target {
  id: string
  scenario: string
  metric: keyof Measurement
  op: '<=' | '>='
  value: number
  text: string
}

function report(mode: Mode, results: Measurement[]): void {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const benchDir = here.endsWith(`${path.sep}dist${path.sep}bench`) ? path.resolve(here, '../../bench') : here
  const slo = JSON.parse(readFileSync(path.join(benchDir, 'slo.json'), 'utf8')) as { targets: Target[] }
  const verdicts = slo.targets.map((target) => {
    const measured = results.find((r) => r.scenario === target.scenario)?.[target.metric]
    const value = typeof measured === 'number' ? measured : null
    const pass = value === null ? null : target.op === '<=' ? value <= target.value : value >= target.value
    return { ...target, measured: value, verdict: pass === null ? 'not measured' : pass ? 'met' : 'missed' }
  })
  const machine = `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`
  const when = new Date().toISOString()
  const dir = path.join(benchDir, 'results')
  mkdirSync(dir, { recursive: true })
  const stamp = when.replace(/[:.]/g, '-')
  writeFileSync(path.join(dir, `${stamp}-${mode}.json`), JSON.stringify({ mode, when, machine, results, verdicts }, null, 2))
  const fmt = (n: number | undefined, digits = 1) => (n === undefined ? '' : n.toFixed(digits))
  const lines = [
    `# isogate bench (${mode}), ${when}`,
    '',
    `Machine: ${machine}. autocannon on the same machine, loopback.`,
    '',
    '| scenario | conns | req/s | x baseline | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | CPU us/req | RSS MiB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) =>
      `| ${r.scenario} | ${r.connections} | ${fmt(r.rps, 0)} | ${fmt(r.ratioRps, 2)} | ${fmt(r.p50)} | ${fmt(r.p97_5)} | ${fmt(r.p99)} | ${r.errors} | ${r.non2xx} | ${fmt(r.cpuMicrosPerRequest)} | ${fmt(r.rssBytes / 2 ** 20, 0)} |`),
    '',
    '| target | measured | verdict |',
    '| --- | --- | --- |',
    ...verdicts.map((v) => `| ${v.text} | ${v.measured === null ? '-' : v.measured.toFixed(3)} | ${v.verdict} |`),
    '',
  ]
  const markdown = lines.join('\n')
  writeFileSync(path.join(dir, `${stamp}-${mode}.md`), markdown)
  writeFileSync(path.join(dir, 'latest.md'), markdown)
  process.stdout.write(`${markdown}\n`)
}

const mode: Mode = process.argv.includes('--smoke') ? 'smoke' : process.argv.includes('--quick') ? 'quick' : 'full'
main(mode).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
