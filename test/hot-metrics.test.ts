import { Counter, Histogram, Registry } from 'prom-client'
import t from 'tap'
import { HotCounter, HotHistogram } from '../gateway/hot-metrics.js'

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
// On a bound, between bounds, past the last one, and zero.
const OBSERVED: Array<[string, string, number]> = [
  ['acme', '2xx', 0.0005],
  ['acme', '2xx', 0.003],
  ['acme', '2xx', 0.003],
  ['acme', '5xx', 31],
  ['bolt', '2xx', 0],
  ['bolt', '4xx', 0.75],
]

t.test('the hot series render exactly as prom-client renders its own counter and histogram for the same observations', async (t) => {
  const theirs = new Registry()
  const counter = new Counter({ name: 'requests_total', help: 'Requests', labelNames: ['tenant', 'status'], registers: [theirs] })
  const histogram = new Histogram({ name: 'latency_seconds', help: 'Latency', labelNames: ['tenant', 'status'], buckets: BUCKETS, registers: [theirs] })
  const unlabelled = new Histogram({ name: 'wait_seconds', help: 'Wait', buckets: [0.1, 1], registers: [theirs] })

  const ours = new Registry()
  const hotCounter = new HotCounter(ours, { name: 'requests_total', help: 'Requests' })
  const hotHistogram = new HotHistogram(ours, { name: 'latency_seconds', help: 'Latency', buckets: BUCKETS })
  const hotWait = new HotHistogram(ours, { name: 'wait_seconds', help: 'Wait', buckets: [0.1, 1] }).series({})

  for (const [tenant, status, seconds] of OBSERVED) {
    counter.inc({ tenant, status })
    histogram.observe({ tenant, status }, seconds)
    hotCounter.series({ tenant, status }).inc()
    hotHistogram.series({ tenant, status }).observe(seconds)
  }
  unlabelled.observe(0.5)
  hotWait.observe(0.5)

  const ourText = await ours.metrics()
  t.equal(ourText, await theirs.metrics())
  t.match(ourText, /latency_seconds_bucket\{le="0.005",tenant="acme",status="2xx"\} 3/)
  t.match(ourText, /latency_seconds_bucket\{le="\+Inf",tenant="acme",status="5xx"\} 1/)
  const asJson = async (registry: Registry): Promise<unknown> => JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as unknown
  t.same(await asJson(ours), await asJson(theirs), 'and as JSON')

  counter.remove({ tenant: 'acme', status: '2xx' })
  histogram.remove({ tenant: 'acme', status: '2xx' })
  hotCounter.remove({ tenant: 'acme', status: '2xx' })
  hotHistogram.remove({ tenant: 'acme', status: '2xx' })
  t.equal(await ours.metrics(), await theirs.metrics(), 'a removed label set is gone from both')
  t.notMatch(await ours.metrics(), /tenant="acme",status="2xx"/)
})

t.test('buckets that do not increase are refused', async (t) => {
  t.throws(() => new HotHistogram(new Registry(), { name: 'bad_seconds', help: 'Bad', buckets: [1, 0.5] }), RangeError)
})
