/**
 * The cost of the gateway -> runner-process hop: an empty fetch handler run in-process
 * (IsolatePool: main thread -> worker thread) and through a runner process (RunnerSupervisor:
 * main thread -> Unix socket -> runner process -> worker thread), with the same threads.
 *
 *   npm run build:platform && node --no-node-snapshot --import tsx bench/runner-hop.ts
 *
 * Reports, for each: median and p99 latency of one call at a time, and round trips per second
 * with many calls in flight (where the per-tick write batching of the framing pays), with the CPU
 * time per run of this process tree (all threads, the runner process included) in that phase:
 * on a machine shared with other work, the steadier number.
 */
import { createHash } from 'node:crypto'
import { IsolatePool, RunnerSupervisor, type RunTask } from '../runner/index.js'
import { percentile } from './percentile.js'
import { treeCpuMicros } from './servers.js'

interface Runner {
  run(task: RunTask): Promise<{ ok: boolean }>
  close(): Promise<void>
}

const SOURCE = `export default { fetch() { return new Response('') } }`
const LATENCY_RUNS = Number(process.argv[2] ?? 5000)
const THROUGHPUT_MS = Number(process.argv[3] ?? 3000)
const IN_FLIGHT = 64
const THREADS = 1

function task(): RunTask {
  return {
    kind: 'fetch',
    program: { tenantId: 'bench', scriptId: 's', version: 1, source: SOURCE, sourceHash: createHash('sha256').update(SOURCE).digest('hex') },
    input: { method: 'GET', url: 'http://bench.test/', headers: [], body: null, params: {} },
    env: {},
    limits: { timeoutMs: 5000, cpuMs: 1000, memoryMb: 64, apiCalls: 100, outputBytes: 1 << 20 },
  }
}

async function measure(name: string, runner: Runner): Promise<{ name: string; medianUs: number; p99Us: number; perSecond: number; cpuUs: number }> {
  const one = task()
  for (let i = 0; i < 500; i++) if (!(await runner.run(one)).ok) throw new Error(`${name}: the warm-up run failed`)
  const latencies: number[] = []
  for (let i = 0; i < LATENCY_RUNS; i++) {
    const started = process.hrtime.bigint()
    await runner.run(one)
    latencies.push(Number(process.hrtime.bigint() - started) / 1000)
  }
  latencies.sort((a, b) => a - b)
  let done = 0
  const cpuBefore = treeCpuMicros(process.pid)
  const until = performance.now() + THROUGHPUT_MS
  const started = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await runner.run(one)
        done++
      }
    }),
  )
  const perSecond = done / ((performance.now() - started) / 1000)
  const cpuUs = (treeCpuMicros(process.pid) - cpuBefore) / done
  return { name, medianUs: percentile(latencies, 0.5), p99Us: percentile(latencies, 0.99), perSecond, cpuUs }
}

const results = []
const pool = new IsolatePool({ threads: THREADS })
results.push(await measure(`in-process IsolatePool (${THREADS} thread)`, pool))
await pool.close()

const supervisor = new RunnerSupervisor({ runners: 1, standby: 0, pool: { threads: THREADS } })
await supervisor.ready()
results.push(await measure(`runner process (${THREADS} thread)`, supervisor))
await supervisor.close()

for (const { name, medianUs, p99Us, perSecond, cpuUs } of results) {
  process.stdout.write(`${name.padEnd(36)} median ${medianUs.toFixed(1).padStart(7)} us   p99 ${p99Us.toFixed(1).padStart(7)} us   ${Math.round(perSecond).toString().padStart(7)} runs/s, CPU ${cpuUs.toFixed(1)} us/run (${IN_FLIGHT} in flight)\n`)
}
const [local, remote] = results
if (local !== undefined && remote !== undefined) {
  process.stdout.write(`hop cost: +${(remote.medianUs - local.medianUs).toFixed(1)} us median, ${((remote.perSecond / local.perSecond) * 100).toFixed(0)}% of in-process throughput\n`)
}
