import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Measurement } from './load.js'
import type { RssMeasurement, SpreadMeasurement, StartMeasurement } from './start-latency.js'

export type Mode = 'full' | 'quick' | 'smoke'

/** A row's non-2xx answers, with their statuses when there are any: `14 (503 x 10, 429 x 4)`. */
export function statusText(row: Pick<Measurement, 'non2xx' | 'statuses'>): string {
  const statuses = Object.entries(row.statuses).map(([status, count]) => `${status} x ${count}`)
  return statuses.length === 0 ? String(row.non2xx) : `${row.non2xx} (${statuses.join(', ')})`
}

export interface BenchResults {
  mode: Mode
  /** Load scenarios, in the order they ran. */
  loads: Measurement[]
  /** Start latencies from bench/runner-bench.ts; empty when it was skipped. */
  starts: StartMeasurement[]
  /** RSS of runner-bench's warm tenants; null when it was skipped. */
  rss: RssMeasurement | null
  /** Hello runs in one thread, one tenant against many; null when runner-bench was skipped. */
  spread: SpreadMeasurement | null
  /** runner-bench's whole `--json` report, kept in the JSON file as it came. */
  runnerBench: unknown
  /** Host-call round trips measured through a running isogate. */
  roundTrips: RoundTrip[]
}

/** A sequential round trip through the whole stack, in µs. */
export interface RoundTrip {
  scenario: string
  medianUs: number
  p90Us: number
  runs: number
}

/** A target in bench/slo.json: `metric` of the row named `scenario` (a load or a start). */
interface Target {
  id: string
  scenario: string
  metric: string
  op: '<=' | '>='
  value: number
  text: string
}

/** Verdicts against bench/slo.json, then the JSON and markdown reports in bench/results/ (and stdout). */
export function report({ mode, loads, starts, rss, spread, runnerBench, roundTrips }: BenchResults): void {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const benchDir = here.endsWith(`${path.sep}dist${path.sep}bench`) ? path.resolve(here, '../../bench') : here
  const slo = JSON.parse(readFileSync(path.join(benchDir, 'slo.json'), 'utf8')) as { targets: Target[] }
  const rows: Array<{ scenario: string }> = [...loads, ...starts, ...(rss === null ? [] : [rss]), ...(spread === null ? [] : [spread]), ...roundTrips]
  const verdicts = slo.targets.map((target) => {
    const row = rows.find((r) => r.scenario === target.scenario) as Record<string, unknown> | undefined
    const measured = row?.[target.metric]
    const value = typeof measured === 'number' ? measured : null
    const pass = value === null ? null : target.op === '<=' ? value <= target.value : value >= target.value
    return { ...target, measured: value, verdict: pass === null ? 'not measured' : pass ? 'met' : 'missed' }
  })
  const machine = `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`
  const when = new Date().toISOString()
  const dir = path.join(benchDir, 'results')
  mkdirSync(dir, { recursive: true })
  const stamp = when.replace(/[:.]/g, '-')
  const json = JSON.stringify({ mode, when, machine, results: loads, starts, rss, spread, runnerBench, roundTrips, verdicts }, null, 2)
  writeFileSync(path.join(dir, `${stamp}-${mode}.json`), json)
  writeFileSync(path.join(dir, 'latest.json'), json)
  const fmt = (n: number | undefined, digits = 1) => (n === undefined ? '' : n.toFixed(digits))
  const crashRows = loads.filter((r) => r.crashes !== undefined)
  const versus = loads.filter((r) => r.ratioToWorkerd !== undefined).map((hello) => ({ hello, workerd: loads.find((r) => r.scenario === hello.scenario.replace(/^hello(-threads)?@/, 'workerd@')) }))
  const manyVersus = loads.filter((r) => r.scenario.startsWith('workerd-tenants@')).map((workerd) => ({ workerd, isogate: loads.find((r) => r.scenario === workerd.scenario.replace(/^workerd-/, '')) }))
  const lines = [
    `# isogate bench (${mode}), ${when}`,
    '',
    `Machine: ${machine}. autocannon on the same machine, loopback.`,
    '',
    '| scenario | conns | req/s | x baseline | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | CPU us/req | RSS MiB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...loads.map((r) =>
      `| ${r.scenario} | ${r.connections} | ${fmt(r.rps, 0)} | ${fmt(r.ratioRps, 2)} | ${fmt(r.p50)} | ${fmt(r.p97_5)} | ${fmt(r.p99)} | ${r.errors} | ${statusText(r)} | ${fmt(r.cpuMicrosPerRequest)} | ${fmt(r.rssBytes / 2 ** 20, 0)} |`),
    '',
    ...(versus.length === 0 ? [] : [
      '| isogate vs workerd (same run, alternating) | isogate req/s | workerd req/s | x workerd | isogate CPU us/req | workerd CPU us/req | CPU x workerd | isogate p99 ms | workerd p99 ms |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...versus.map(({ hello, workerd }) => `| ${hello.scenario} | ${fmt(hello.rps, 0)} | ${fmt(workerd?.rps, 0)} | ${fmt(hello.ratioToWorkerd, 2)} | ${fmt(hello.cpuMicrosPerRequest)} | ${fmt(workerd?.cpuMicrosPerRequest)} | ${fmt(hello.cpuRatioToWorkerd, 2)} | ${fmt(hello.p99)} | ${fmt(workerd?.p99)} |`),
      '',
    ]),
    ...(manyVersus.length === 0 ? [] : [
      '| many tenants (same run) | isogate req/s x its hello | workerd req/s x one tenant behind its router | isogate CPU us/req | workerd CPU us/req |',
      '| --- | --- | --- | --- | --- |',
      ...manyVersus.map(({ workerd, isogate }) => `| ${workerd.scenario.replace(/^workerd-/, '')} | ${fmt(isogate?.ratioToHello, 2)} | ${fmt(workerd.ratioToHello, 2)} | ${fmt(isogate?.cpuMicrosPerRequest)} | ${fmt(workerd.cpuMicrosPerRequest)} |`),
      '',
    ]),
    ...(roundTrips.length === 0 ? [] : [
      ...roundTrips.map((r) => `${r.scenario} (sequential ctx.cache.get, through the whole stack): median ${r.medianUs.toFixed(0)} us, p90 ${r.p90Us.toFixed(0)} us over ${r.runs} runs of 90 calls.`),
      '',
    ]),
    ...(crashRows.length === 0 ? [] : [
      '| runner crash under load | crashes | others\' errors | others\' non-2xx | others\' req/s x no crashes |',
      '| --- | --- | --- | --- | --- |',
      ...crashRows.map((r) => `| ${r.scenario} | ${r.crashes} | ${r.errors} | ${statusText(r)} | ${r.ratioToNoCrash === undefined ? '-' : r.ratioToNoCrash.toFixed(2)} |`),
      '',
    ]),
    ...(starts.length === 0 ? [] : [
      '| start (bench/runner-bench.ts, one thread) | median ms | p90 ms | hot over an empty call us | runs |',
      '| --- | --- | --- | --- | --- |',
      ...starts.map((s) => `| ${s.scenario} | ${s.medianMs.toFixed(3)} | ${s.p90Ms.toFixed(3)} | ${fmt(s.overEmptyCallUs)} | ${s.runs} |`),
      '',
    ]),
    ...(rss === null ? [] : [
      `RSS of ${rss.tenants} warm tenants in a process that holds only them (bench/runner-bench.ts): ${rss.totalMiB.toFixed(0)} MiB, ${rss.perTenantKiB.toFixed(0)} KiB a tenant.`,
      '',
    ]),
    ...(spread === null ? [] : [
      `Hello runs in one thread (bench/runner-bench.ts, no gateway, no hop): one tenant ${spread.oneCpuUs.toFixed(1)} us of CPU and ${spread.oneFaults.toFixed(2)} page faults a run; spread over ${spread.tenants} tenants ${spread.spreadCpuUs.toFixed(1)} us and ${spread.spreadFaults.toFixed(2)}: ${spread.cpuRatio.toFixed(2)}x the CPU a run.`,
      '',
    ]),
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
