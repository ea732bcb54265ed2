import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))

t.test('the bench harness runs every scenario against isogate and the uWS baseline and writes a report', async (t) => {
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'bench/run.ts', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 0, output.slice(-2000))
  const report = readFileSync(new URL('../bench/results/latest.md', import.meta.url), 'utf8')
  for (const scenario of ['baseline@10', 'hello@10', 'echo@10', 'cpu@10', 'tenants@10', 'quiet-alone', 'flood', 'fairness']) {
    t.match(report, new RegExp(`\\| ${scenario} \\| \\d+ \\| \\d+ \\|`), `${scenario} was measured`)
  }
  // Timings are not judged here (machines are noisy), but isogate must have answered 2xx.
  const hello = /\| hello@10 \| 10 \| (\d+) \| [\d.]+ \|(?: [\d.]+ \|){3} (\d+) \| (\d+) \|/.exec(report)
  t.ok(hello, 'the hello row parses')
  t.ok(Number(hello?.[1]) > 0, 'requests per second were measured')
  t.equal(Number(hello?.[3]), 0, 'no non-2xx answers in the hello scenario')
  t.match(report, /\| fairness: the quiet tenant's p99 with a flood <= 2x its p99 alone \| [\d.]+ \| (met|missed) \|/)
})
