import t from 'tap'
import { bucketOf, emptyCounts, addRun, HISTOGRAM_BOUNDS_MS, quantileMs, summarize } from '../src/domain/execution-rollup.js'
import { RecordBuffer } from '../src/services/record-buffer.js'
import { RunSampler } from '../src/services/run-sampler.js'
import { capLogs } from '../src/services/execution-recorder.js'

t.test('a full record buffer pushes out the largest tenant for one under its share, and refuses a tenant at its share', async (t) => {
  const buffer = new RecordBuffer<string>({ maxBytes: 100 })
  for (let i = 0; i < 9; i++) t.ok(buffer.offer('noisy', `n${i}`, 10).accepted)
  t.same(buffer.offer('noisy', 'n9', 10), { accepted: true, evicted: [] }, 'room left: accepted')
  t.same(buffer.offer('noisy', 'n10', 10), { accepted: false, evicted: [] }, 'full, and noisy holds more than its share: refused')
  t.same(buffer.offer('quiet', 'q0', 10), { accepted: true, evicted: ['n0'] }, "a quiet tenant gets room from the noisy one's oldest")
  t.equal(buffer.bytes, 100)
  const taken = buffer.take(100, 1_000)
  t.equal(taken.length, 10)
  t.equal(taken[0]?.tenantId === taken[1]?.tenantId, false, 'taken round robin across tenants')
  t.equal(buffer.bytes, 100, 'bytes in flight still count')
  t.same(buffer.offer('other', 'o0', 10), { accepted: false, evicted: [] }, 'nothing waiting can be pushed out: refused')
  buffer.putBack(taken.slice(0, 2))
  t.equal(buffer.length, 2)
  buffer.done(taken.slice(2))
  t.equal(buffer.bytes, 20, 'written records free their bytes')
})

t.test('the sampler keeps the first runs of each version, then samples; rate 1 keeps all and 0 none', async (t) => {
  const sampler = new RunSampler({ sampleRate: 0, firstRuns: 3 })
  t.same([1, 2, 3, 4].map(() => sampler.keep('s', 1, undefined)), [true, true, true, false])
  t.same([1, 2, 3, 4].map(() => sampler.keep('s', 2, undefined)), [true, true, true, false], 'a new version starts its own window')
  t.equal(sampler.keep('s', 1, undefined), false, 'an older version does not restart it')
  t.equal(sampler.keep('s', 2, 1), true, 'the script rate 1 keeps every run')
  t.throws(() => new RunSampler({ sampleRate: 1.5, firstRuns: 0 }), RangeError)
})

t.test('at the default rate a script keeps at most maxPerSecond runs a second; its own rate and its first runs are not capped', async (t) => {
  const sampler = new RunSampler({ sampleRate: 1, firstRuns: 2, maxPerSecond: 3 })
  const second = 1_700_000_000_000
  t.same([0, 1].map((i) => sampler.keep('busy', 1, undefined, second + i)), [true, true], 'the first runs')
  t.same([2, 3, 4, 5, 6].map((i) => sampler.keep('busy', 1, undefined, second + i)), [true, true, true, false, false], 'then 3 in the second')
  t.same([7, 8, 9, 10, 11, 12].map((i) => sampler.keep('other', 1, undefined, second + i)), [true, true, true, true, true, false], "another script's first runs and cap are its own")
  t.same([0, 1, 2, 3].map((i) => sampler.keep('busy', 1, undefined, second + 1_000 + i)), [true, true, true, false], 'the next second keeps 3 again')
  t.same([0, 1, 2, 3, 4].map((i) => sampler.keep('busy', 1, 1, second + 1_000 + 10 + i)), [true, true, true, true, true], "a script's own rate 1 keeps every run")
  t.throws(() => new RunSampler({ sampleRate: 0.5, firstRuns: 0, maxPerSecond: 0 }), RangeError)
})

t.test('histogram buckets, percentiles and summaries', async (t) => {
  t.equal(bucketOf(0), 0)
  t.equal(bucketOf(0.1), 0, 'a value on a bound is in its bucket')
  t.equal(bucketOf(0.11), 1)
  t.equal(bucketOf(1e9), HISTOGRAM_BOUNDS_MS.length, 'beyond the last bound: the open bucket')
  const counts = emptyCounts()
  for (let i = 0; i < 99; i++) addRun(counts, { tenantId: 't', scriptId: 's', at: 0, ok: true, code: null, status: 200, durationMs: 0.8, cpuMs: 0.2, bytesIn: 1, bytesOut: 2 })
  addRun(counts, { tenantId: 't', scriptId: 's', at: 0, ok: false, code: 'SCRIPT_TIMEOUT', status: 504, durationMs: 40, cpuMs: 1, bytesIn: 0, bytesOut: 0 })
  const summary = summarize(counts)
  t.match(summary, { runs: 100, completed: 99, failed: 1, byCode: { SCRIPT_TIMEOUT: 1 }, http: { '2xx': 99, '5xx': 1 }, bytesIn: 99, bytesOut: 198 })
  t.ok((summary.p50Ms as number) > 0.5 && (summary.p50Ms as number) <= 1, `p50 in the 0.5-1 ms bucket (${summary.p50Ms})`)
  t.ok((summary.p99Ms as number) <= 1, 'p99 of 100 runs with one slow: still the fast bucket')
  t.equal(quantileMs(counts.durationHist, 1), 50, 'the maximum is the slow bucket (30-50 ms) upper bound')
  t.equal(quantileMs(emptyCounts().durationHist, 0.5), null)
})

t.test('a record keeps at most the output limit of log text and says how many lines went', async (t) => {
  const logs = Array.from({ length: 10 }, (_, i) => ({ level: 'info' as const, message: 'x'.repeat(100), time: i }))
  const kept = capLogs(logs, 350)
  t.equal(kept.length, 4)
  t.match(kept[3]?.message, /7 log lines not recorded/)
  t.equal(capLogs(logs, 10_000), logs, 'under the limit: untouched')
})
