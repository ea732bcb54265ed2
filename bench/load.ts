import autocannon from 'autocannon'
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
}

/** Drives autocannon on loopback for `seconds`, and reads the server tree's CPU and RSS around it. */
export async function load(server: BenchServer, options: LoadOptions): Promise<Omit<Measurement, 'scenario'>> {
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
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests,
    cpuMicrosPerRequest: requests > 0 ? cpu / requests : 0,
    rssBytes: treeRssBytes(server.pid),
  }
}
