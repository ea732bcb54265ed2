/**
 * Runner benchmark: cold start (new tenant, first run), warm (new script version in a live
 * isolate), hot (cached program), each against a bare isolated-vm baseline, and RSS with 100 and
 * 1000 warm tenants (in a child process that holds only them). Medians over at least 1000 runs;
 * runs in this thread, without the worker-thread hop, to measure the runner itself.
 *
 *   node --no-node-snapshot --interrupt-budget-factor-for-feedback-allocation=16 --regexp-tier-up-ticks=20 \
 *     --import tsx bench/runner-bench.ts [--runs 1000] [--tenants 1000] [--json]
 *
 * Those two V8 flags are runner/supervisor/v8-flags.ts, which runner processes get; `npm run bench` passes them.
 */
import ivm from 'isolated-vm'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parseArgs } from 'node:util'
import { IsolateHost } from '../runner/thread/isolate-host.js'
import { platformCode } from '../runner/thread/platform-cache.js'
import { readPlatformSource } from '../runner/process/platform-source.js'
import { collectGarbageAtExit } from '../runner/thread/collect-garbage.js'
import type { PlatformCode } from '../runner/thread/tenant-isolate.js'
import type { RunLimits, RunResult, RunTask } from '../runner/protocol.js'
import { percentile } from './percentile.js'

// Isolates live on this process's main thread (runner/thread/collect-garbage.ts).
collectGarbageAtExit()

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    tenants: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    'rss-only': { type: 'boolean', default: false },
  },
})
const RUNS = Number(values.runs)
const TENANTS = Number(values.tenants)
if (!Number.isInteger(RUNS) || RUNS < 1) throw new RangeError('--runs must be a positive integer')
if (!Number.isInteger(TENANTS) || TENANTS < 100) throw new RangeError('--tenants must be an integer of at least 100')

const LIMITS: RunLimits = { timeoutMs: 5000, cpuMs: 1000, memoryMb: 64, apiCalls: 100, outputBytes: 1 << 20 }
const HELLO = `export default { fetch(request) { return new Response('hello') } }`
const TYPICAL = `export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    return Response.json({ path: url.pathname, q: url.searchParams.get('q'), agent: request.headers.get('user-agent') })
  },
}`

interface Stats {
  median: number
  p90: number
  runs: number
  /**
   * Process CPU time (all threads, user + system) per run, in ms: the work a run costs, which
   * waiting for a core on a busy machine does not inflate the way it inflates wall time.
   */
  cpuPerRun: number
}

let cpuMark = process.cpuUsage()
/** Starts counting process CPU time for the next `stats`. */
function markCpu(): void {
  cpuMark = process.cpuUsage()
}

function stats(samples: number[]): Stats {
  const cpu = process.cpuUsage(cpuMark)
  const sorted = [...samples].sort((a, b) => a - b)
  return { median: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), runs: samples.length, cpuPerRun: (cpu.user + cpu.system) / 1000 / samples.length }
}

function task(tenantId: string, source: string, version = 1): RunTask {
  return {
    kind: 'fetch',
    program: { tenantId, scriptId: 'bench', version, source, sourceHash: createHash('sha256').update(source).digest('hex') },
    input: { method: 'GET', url: 'http://bench.test/items/42?q=isogate', headers: [['user-agent', 'bench']], body: null, params: {} },
    env: {},
    limits: LIMITS,
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

function check(result: RunResult, expected: RunResult['metrics']['start']): void {
  if (!result.ok) throw new Error(`bench run failed: ${JSON.stringify(result.error)}`)
  if (result.metrics.start !== expected) throw new Error(`bench run was ${result.metrics.start}, expected ${expected}`)
}

function newRunner(platform: PlatformCode, maxIsolates: number, maxPrograms: number): IsolateHost {
  return new IsolateHost({ platform, maxIsolates, isolateIdleMs: 3_600_000, maxProgramsPerTenant: maxPrograms })
}

/** Bare isolated-vm: a new isolate, context, module and call; no platform. */
async function bareCold(): Promise<Stats> {
  const samples: number[] = []
  markCpu()
  for (let i = 0; i < RUNS; i++) {
    samples.push(await timed(async () => {
      const isolate = new ivm.Isolate({ memoryLimit: 64 })
      const context = isolate.createContextSync()
      const module = isolate.compileModuleSync(`export default function f() { return 'hello' }`)
      module.instantiateSync(context, () => { throw new Error('no imports') })
      await module.evaluate()
      const fn = (await module.namespace.get('default', { reference: true })) as ivm.Reference
      await fn.apply(undefined, [], { result: { copy: true } })
      isolate.dispose()
    }))
  }
  return stats(samples)
}

/** Bare isolated-vm: an empty async call, the floor of a hot run. */
async function bareCall(): Promise<{ async: Stats; sync: Stats }> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 })
  const context = isolate.createContextSync()
  const fn = context.evalSync('(function () {})', { reference: true }) as ivm.Reference
  const asyncSamples: number[] = []
  markCpu()
  for (let i = 0; i < RUNS * 5; i++) asyncSamples.push(await timed(() => fn.apply(undefined, [], { result: { copy: true } })))
  const asyncStats = stats(asyncSamples)
  const syncSamples: number[] = []
  markCpu()
  for (let i = 0; i < RUNS * 5; i++) {
    const start = performance.now()
    fn.applySync(undefined, [], { result: { copy: true } })
    syncSamples.push(performance.now() - start)
  }
  isolate.dispose()
  return { async: asyncStats, sync: stats(syncSamples) }
}

/**
 * New tenants' first runs. Back to back, each makes its isolate (the thread is never idle, so it
 * makes none ahead); `idle`: each arrives after the thread had a moment to itself, as a tenant's
 * first request after a quiet spell does, and takes an isolate made ahead (isolate-host.ts).
 */
async function cold(platform: PlatformCode, source: string, idle = false): Promise<Stats> {
  const runner = newRunner(platform, 8, 4)
  const samples: number[] = []
  markCpu()
  for (let i = 0; i < RUNS; i++) {
    if (idle) await new Promise((resolve) => setTimeout(resolve, 5))
    let result: RunResult | null = null
    samples.push(await timed(async () => { result = await runner.run(task(`cold-${i}`, source)) }))
    check(result as unknown as RunResult, 'cold')
  }
  runner.close()
  return stats(samples)
}

/**
 * New versions of a script in a live isolate. `idle`: each arrives after the worker had a moment
 * (one event-loop turn) to itself, as deploys do; otherwise they come back to back.
 */
async function warm(platform: PlatformCode, source: string, idle: boolean): Promise<Stats> {
  const runner = newRunner(platform, 8, 4)
  check(await runner.run(task('warm', source)), 'cold')
  const samples: number[] = []
  markCpu()
  for (let i = 0; i < RUNS; i++) {
    if (idle) await new Promise((resolve) => setTimeout(resolve, 1))
    const version = `${source}\n// version ${i}`
    let result: RunResult | null = null
    samples.push(await timed(async () => { result = await runner.run(task('warm', version, i + 2)) }))
    check(result as unknown as RunResult, 'warm')
  }
  runner.close()
  return stats(samples)
}

/**
 * Hot runs, each paired with an empty async call into a bare isolate right before it, so both see
 * the same machine: `overCall` is the median of the per-pair differences.
 */
async function hot(platform: PlatformCode, source: string): Promise<Stats & { overCall: number }> {
  const runner = newRunner(platform, 8, 4)
  check(await runner.run(task('hot', source)), 'cold')
  for (let i = 0; i < 200; i++) await runner.run(task('hot', source))
  const bare = new ivm.Isolate({ memoryLimit: 64 })
  const empty = bare.createContextSync().evalSync('(function () {})', { reference: true }) as ivm.Reference
  const samples: number[] = []
  const differences: number[] = []
  const hotTask = task('hot', source)
  markCpu()
  for (let i = 0; i < RUNS * 5; i++) {
    const call = await timed(() => empty.apply(undefined, [], { result: { copy: true } }))
    let result: RunResult | null = null
    const run = await timed(async () => { result = await runner.run(hotTask) })
    samples.push(run)
    differences.push(run - call)
    if (i === 0) check(result as unknown as RunResult, 'hot')
  }
  const result = { ...stats(samples), overCall: stats(differences).median }
  bare.dispose()
  runner.close()
  return result
}

/** CPU and page faults a run, for one set of runs (`spread`). */
interface RunCost {
  cpuUsPerRun: number
  faultsPerRun: number
}

/** Hot runs of one tenant against the same runs spread over many warm tenants, in one thread. */
interface SpreadReport {
  tenants: number
  runs: number
  one: RunCost
  spread: RunCost
  /** spread's CPU a run over one's (medians of the blocks' paired ratios). */
  cpuRatio: number
}

/**
 * What many tenants cost the runner itself, without the gateway or the hop to a worker thread:
 * hello runs one after another, in blocks that alternate between one warm tenant and `tenants`
 * warm tenants taken in turn (each run in another isolate, as at the bench's tenants@100), in the
 * same process and minutes, so the ratio holds on a noisy machine. Page faults count the fresh
 * pages the runs touch (each 10-25 us of kernel time on this virtual machine): V8 uncommits the idle half
 * of a young generation whose isolate allocates slowly, which a tenant with a hundredth of the
 * runs does.
 */
async function spread(platform: PlatformCode, source: string, tenants: number, blockRuns: number, blocks: number): Promise<SpreadReport> {
  const runner = newRunner(platform, tenants + 1, 4)
  const manyTasks = Array.from({ length: tenants }, (_, i) => task(`spread-${i}`, source))
  const oneTask = task('spread-one', source)
  // Past their first runs, which start on isolated-vm's pool until the program has earned the thread (step-costs.ts).
  for (let i = 0; i < 30; i++) {
    for (const t of manyTasks) check(await runner.run(t), i === 0 ? 'cold' : 'hot')
    check(await runner.run(oneTask), i === 0 ? 'cold' : 'hot')
  }
  const block = async (next: (i: number) => RunTask): Promise<RunCost> => {
    const cpu = process.cpuUsage()
    const faults = process.resourceUsage().minorPageFault
    for (let i = 0; i < blockRuns; i++) check(await runner.run(next(i)), 'hot')
    const used = process.cpuUsage(cpu)
    return { cpuUsPerRun: (used.user + used.system) / blockRuns, faultsPerRun: (process.resourceUsage().minorPageFault - faults) / blockRuns }
  }
  const ones: RunCost[] = []
  const spreads: RunCost[] = []
  for (let b = 0; b < blocks; b++) {
    ones.push(await block(() => oneTask))
    spreads.push(await block((i) => manyTasks[(b * blockRuns + i) % tenants] as RunTask))
  }
  runner.close()
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const cost = (all: RunCost[]): RunCost => ({ cpuUsPerRun: median(all.map((c) => c.cpuUsPerRun)), faultsPerRun: median(all.map((c) => c.faultsPerRun)) })
  return { tenants, runs: blockRuns * blocks, one: cost(ones), spread: cost(spreads), cpuRatio: median(spreads.map((c, i) => c.cpuUsPerRun / (ones[i] as RunCost).cpuUsPerRun)) }
}

interface RssReport {
  baselineMiB: number
  at100MiB: number
  atAllMiB: number
  tenants: number
}

/**
 * RSS with warm tenants, in a process of its own that holds nothing else, as a runner process
 * holds its tenants: the phases before would otherwise leave their own garbage and fragmentation
 * in the count. Same node flags as this process.
 */
async function rssInOwnProcess(): Promise<RssReport> {
  const script = fileURLToPath(import.meta.url)
  const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, script, '--rss-only', '--tenants', String(TENANTS)], { maxBuffer: 1 << 20 })
  return JSON.parse(stdout) as RssReport
}

function rssMiB(): number {
  return process.memoryUsage().rss / 1024 / 1024
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 200))
  globalThis.gc?.()
}

async function rssWithWarmTenants(platform: PlatformCode): Promise<RssReport> {
  await settle()
  const baselineMiB = rssMiB()
  const runner = newRunner(platform, TENANTS, 4)
  let at100MiB = 0
  for (let i = 0; i < TENANTS; i++) {
    check(await runner.run(task(`tenant-${i}`, TYPICAL)), 'cold')
    check(await runner.run(task(`tenant-${i}`, TYPICAL)), 'hot')
    if (i === 99) {
      await settle()
      at100MiB = rssMiB()
    }
  }
  await settle()
  const atAllMiB = rssMiB()
  if (runner.stats().isolates !== TENANTS) throw new Error(`expected ${TENANTS} live isolates, found ${runner.stats().isolates}`)
  runner.close()
  return { baselineMiB, at100MiB, atAllMiB, tenants: TENANTS }
}

const ms = (s: Stats): string => `median ${s.median.toFixed(3)} ms  p90 ${s.p90.toFixed(3)} ms  CPU ${s.cpuPerRun.toFixed(3)} ms/run  (${s.runs} runs)`
const us = (s: Stats): string => `median ${(s.median * 1000).toFixed(1)} us  p90 ${(s.p90 * 1000).toFixed(1)} us  CPU ${(s.cpuPerRun * 1000).toFixed(1)} us/run  (${s.runs} runs)`

if (values['rss-only']) {
  console.log(JSON.stringify(await rssWithWarmTenants(await platformCode(readPlatformSource()))))
  process.exit(0)
}

const started = performance.now()
const platform = await platformCode(readPlatformSource())
const platformMs = performance.now() - started
const report = {
  platformCacheMs: platformMs,
  platformCacheBytes: platform.cachedData?.copy().byteLength ?? 0,
  bare: { cold: await bareCold(), call: await bareCall() },
  cold: { hello: await cold(platform, HELLO), typical: await cold(platform, TYPICAL) },
  coldAfterIdle: { hello: await cold(platform, HELLO, true), typical: await cold(platform, TYPICAL, true) },
  warm: { hello: await warm(platform, HELLO, true), typical: await warm(platform, TYPICAL, true) },
  warmBackToBack: { hello: await warm(platform, HELLO, false), typical: await warm(platform, TYPICAL, false) },
  hot: { hello: await hot(platform, HELLO), typical: await hot(platform, TYPICAL) },
  // The smoke test's few runs (--runs 10) only check the line is made: 200 a block is enough there.
  spread: await spread(platform, HELLO, 100, RUNS >= 100 ? Math.max(1000, RUNS * 2) : 200, 6),
  rss: await rssInOwnProcess(),
}

if (values.json) {
  console.log(JSON.stringify(report, null, 2))
} else {
  const overCall = (s: { overCall: number }): string => `${(s.overCall * 1000).toFixed(1)} us over an empty async call (median of paired differences)`
  console.log(`platform code cache: ${(report.platformCacheBytes / 1024).toFixed(0)} KiB, made in ${report.platformCacheMs.toFixed(0)} ms`)
  console.log(`bare isolate, cold:      ${ms(report.bare.cold)}`)
  console.log(`bare empty call, async:  ${us(report.bare.call.async)}`)
  console.log(`bare empty call, sync:   ${us(report.bare.call.sync)}`)
  for (const name of ['hello', 'typical'] as const) {
    console.log(`cold  ${name.padEnd(8)} ${ms(report.cold[name])}  (back to back: no isolate made ahead)`)
    console.log(`cold  ${name.padEnd(8)} ${ms(report.coldAfterIdle[name])}  (after an idle moment: an isolate made ahead)`)
    console.log(`warm  ${name.padEnd(8)} ${ms(report.warm[name])}`)
    console.log(`warm  ${name.padEnd(8)} ${ms(report.warmBackToBack[name])}  (versions back to back: no spare context ready)`)
    console.log(`hot   ${name.padEnd(8)} ${us(report.hot[name])}  = ${overCall(report.hot[name])}`)
  }
  const { one, spread: many, tenants: spreadTenants, cpuRatio } = report.spread
  console.log(`hello runs in one thread: one tenant ${one.cpuUsPerRun.toFixed(1)} us of CPU and ${one.faultsPerRun.toFixed(2)} page faults a run; spread over ${spreadTenants} tenants ${many.cpuUsPerRun.toFixed(1)} us and ${many.faultsPerRun.toFixed(2)} (${cpuRatio.toFixed(2)}x the CPU)`)
  const { baselineMiB, at100MiB, atAllMiB, tenants } = report.rss
  console.log(`RSS, in a process of its own: ${baselineMiB.toFixed(0)} MiB before; ${at100MiB.toFixed(0)} MiB with 100 warm tenants; ${atAllMiB.toFixed(0)} MiB with ${tenants} (${((atAllMiB - baselineMiB) / tenants * 1024).toFixed(0)} KiB per tenant)`)
}
