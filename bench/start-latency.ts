import { spawn } from 'node:child_process'
import { nodeArgs } from './servers.js'
import { RUNNER_V8_FLAGS } from '../runner/supervisor/v8-flags.js'

/** A start kind's latency from bench/runner-bench.ts: a row of the report's start table. */
export interface StartMeasurement {
  /** `start-cold`, `start-cold-idle`, `start-warm`, `start-hot`, with `-typical` for the URL-parsing handler. */
  scenario: string
  medianMs: number
  p90Ms: number
  runs: number
  /** Hot runs only: median of (hot run - empty async call into a bare isolate), in µs. */
  overEmptyCallUs?: number
}

/** RSS of warm tenants from bench/runner-bench.ts (a process that holds only them): a report row. */
export interface RssMeasurement {
  scenario: 'warm-tenants-rss'
  tenants: number
  totalMiB: number
  perTenantKiB: number
  /** totalMiB when exactly 1000 tenants were measured (the target's count; full mode), else absent. */
  totalMiBAt1000?: number
}

/** Hello runs in one thread, one tenant against the same runs spread over many (bench/runner-bench.ts `spread`): a report line. */
export interface SpreadMeasurement {
  scenario: 'runner-spread'
  tenants: number
  oneCpuUs: number
  spreadCpuUs: number
  oneFaults: number
  spreadFaults: number
  /** spreadCpuUs over oneCpuUs, from blocks that alternated in the same process. */
  cpuRatio: number
}

interface Stats {
  median: number
  p90: number
  runs: number
}

/** The part of runner-bench's `--json` output the report reads; the rest is kept as it came. */
interface RunnerBenchReport {
  cold: Record<'hello' | 'typical', Stats>
  coldAfterIdle: Record<'hello' | 'typical', Stats>
  warm: Record<'hello' | 'typical', Stats>
  hot: Record<'hello' | 'typical', Stats & { overCall: number }>
  rss: { baselineMiB: number; atAllMiB: number; tenants: number }
  spread: { tenants: number; one: { cpuUsPerRun: number; faultsPerRun: number }; spread: { cpuUsPerRun: number; faultsPerRun: number }; cpuRatio: number }
}

/**
 * Runs bench/runner-bench.ts in a child process (compiled when this is, so `npm run bench` needs
 * no TypeScript loader) and returns its cold, warm and hot medians, the RSS of its warm tenants,
 * and the whole JSON report.
 * `cold` is new tenants back to back (no isolate made ahead), `cold-idle` a new tenant after the
 * thread was idle for a moment (one made ahead); `warm` is the version that arrives after the
 * worker was idle for a moment, as deploys do.
 */
export async function measureStarts(runs: number, tenants: number): Promise<{ starts: StartMeasurement[]; rss: RssMeasurement; spread: SpreadMeasurement; raw: unknown }> {
  const output = await runChild(nodeArgs('bench/runner-bench', [...RUNNER_V8_FLAGS], ['--runs', String(runs), '--tenants', String(tenants), '--json']))
  const raw = JSON.parse(output) as RunnerBenchReport
  const starts: StartMeasurement[] = []
  for (const script of ['hello', 'typical'] as const) {
    const suffix = script === 'hello' ? '' : `-${script}`
    const row = (kind: string, stats: Stats): StartMeasurement => ({ scenario: `start-${kind}${suffix}`, medianMs: stats.median, p90Ms: stats.p90, runs: stats.runs })
    starts.push(row('cold', raw.cold[script]), row('cold-idle', raw.coldAfterIdle[script]), row('warm', raw.warm[script]), { ...row('hot', raw.hot[script]), overEmptyCallUs: raw.hot[script].overCall * 1000 })
  }
  const { baselineMiB, atAllMiB } = raw.rss
  const rss: RssMeasurement = { scenario: 'warm-tenants-rss', tenants: raw.rss.tenants, totalMiB: atAllMiB, perTenantKiB: ((atAllMiB - baselineMiB) * 1024) / raw.rss.tenants }
  if (raw.rss.tenants === 1000) rss.totalMiBAt1000 = atAllMiB
  const { one, spread: many } = raw.spread
  const spread: SpreadMeasurement = { scenario: 'runner-spread', tenants: raw.spread.tenants, oneCpuUs: one.cpuUsPerRun, spreadCpuUs: many.cpuUsPerRun, oneFaults: one.faultsPerRun, spreadFaults: many.faultsPerRun, cpuRatio: raw.spread.cpuRatio }
  return { starts, rss, spread, raw }
}

function runChild(args: string[], timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(stdout)
      else reject(new Error(`runner-bench ended with ${code ?? signal}: ${stderr.slice(-2000)}`))
    })
  })
}
