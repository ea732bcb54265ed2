import autocannon from 'autocannon'
import { percentile } from './percentile.js'
import { treeCpuMicros, treeRssBytes, type BenchServer } from './servers.js'

/** One bounded load against one server: a row of the report. */
export interface Measurement {
  scenario: string
  connections: number
  rps: number
  p50: number
  p97_5: number
  p99: number
  /** The slowest request (ms). */
  max: number
  errors: number
  non2xx: number
  /** How many answers each status that is not 2xx had (`{ '503': 14 }`); empty when all were 2xx. */
  statuses: Record<string, number>
  requests: number
  cpuMicrosPerRequest: number
  rssBytes: number
  ratioRps?: number
  ratioCpu?: number
  ratioToHello?: number
  /** isogate's req/s over workerd's in the same run (hello rows). */
  ratioToWorkerd?: number
  /** isogate's server CPU per request over workerd's. */
  cpuRatioToWorkerd?: number
  /** isogate's p99 over workerd's. */
  p99RatioToWorkerd?: number
  quietP99Ratio?: number
  /** Runner crashes caused while this load ran. */
  crashes?: number
  /** Throughput over the same load without crashes; absent when no crash happened. */
  ratioToNoCrash?: number
}

export interface LoadOptions {
  port: number
  paths: string[]
  connections: number
  seconds: number
  method?: string
  body?: string
  /**
   * Each connection starts at its own place in `paths` (connection i at path i) and goes round from
   * there, so the connections are spread over the paths at every moment. Without it every
   * connection starts at the first path and they move from path to path together: with one path a
   * tenant, one tenant after another gets every connection at once.
   */
  spread?: boolean
  /** Stop after this many requests rather than after `seconds`. */
  amount?: number
}

/**
 * Drives autocannon on loopback for `seconds`, and reads the server tree's CPU and RSS around it.
 * Latency percentiles are taken from every 2xx answer's own time (autocannon's `response` events),
 * not from autocannon's histogram, which keeps whole milliseconds: a p99 of 3 ms there is anything
 * from 3 to 4, a third of itself, and the ratios of two p99s (fairness, noisy neighbours) flipped
 * on one millisecond.
 */
export async function load(server: BenchServer, options: LoadOptions): Promise<Omit<Measurement, 'scenario'>> {
  const cpuBefore = treeCpuMicros(server.pid)
  const latencies: number[] = []
  // Without a callback autocannon returns its run, an event emitter that is also a promise of the
  // result; its typings give only the promise.
  const run = autocannon({
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    duration: options.seconds,
    method: (options.method ?? 'GET') as 'GET',
    body: options.body,
    headers: options.body ? { 'content-type': 'application/json' } : {},
    requests: options.spread === true ? spreadRequests(options.paths) : options.paths.map((p) => ({ path: p })),
    ...(options.amount === undefined ? {} : { amount: options.amount }),
    timeout: 10,
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>
  run.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
  })
  const result = await run
  const cpu = treeCpuMicros(server.pid) - cpuBefore
  const requests = result.requests.total
  latencies.sort((a, b) => a - b)
  const at = (quantile: number, histogram: number): number => (latencies.length === 0 ? histogram : percentile(latencies, quantile))
  return {
    connections: options.connections,
    rps: result.requests.average,
    p50: at(0.5, result.latency.p50),
    p97_5: at(0.975, result.latency.p97_5),
    p99: at(0.99, result.latency.p99),
    max: at(1, result.latency.max),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statuses: non2xxStatuses(result.statusCodeStats ?? {}),
    requests,
    cpuMicrosPerRequest: requests > 0 ? cpu / requests : 0,
    rssBytes: treeRssBytes(server.pid),
  }
}

/** The statuses autocannon counted that are not 2xx, with their counts. */
function non2xxStatuses(stats: Partial<Record<string, { count?: number }>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [status, stat] of Object.entries(stats)) {
    if (!status.startsWith('2') && (stat?.count ?? 0) > 0) out[status] = stat?.count ?? 0
  }
  return out
}

/** Requests going round `paths`, each connection from its own start (LoadOptions.spread). */
function spreadRequests(paths: string[]): autocannon.Request[] {
  let connections = 0
  // A connection's context lives until it has gone round every request once; then it takes a new start.
  return paths.map((_, step) => ({
    setupRequest: (request: autocannon.Request, context: { start?: number }) => {
      context.start ??= connections++
      return { ...request, path: paths[(context.start + step) % paths.length] }
    },
  }))
}
