import { setTimeout as sleep } from 'node:timers/promises'
import { HostBridge, HostRegistry } from './host-bridge.js'
import { LimitEnforcer } from './limit-enforcer.js'
import type { PlatformSource } from '../process/platform-source.js'
import { runArgs, type HttpRequestData, type ProgramRef } from '../protocol.js'
import { PLATFORM_FILENAME, TenantIsolate, chunkFilename, type PlatformCode, type PlatformScript } from './tenant-isolate.js'

/**
 * Exercises what a typical fetch handler touches, so those functions of the core are compiled when
 * its cache is taken, and nothing more: every function in the core's cache is deserialised into
 * every isolate, used or not. Taking crypto.subtle, structuredClone, AbortController, timers and
 * the encoders in as well cost ~100 KiB RSS per warm tenant (bench/runner-bench.ts, 1000 tenants:
 * 1.80 -> 1.70 MiB); scripts that use them compile those functions on first use instead.
 */
const WARM_UP = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    url.searchParams.set('q', 'warm up')
    const headers = new Headers(request.headers)
    headers.append('x-warm', '1')
    console.log(url.pathname, request.headers.get('content-type'))
    const body = await request.text()
    const inner = new Request(url, { method: 'POST', body, headers })
    await inner.json().catch(() => null)
    return Response.json({ url: url.href, q: url.searchParams.get('q'), length: body.length, status: new Response('x', { status: 201 }).status })
  },
}`

const WARM_UP_LIMITS = { timeoutMs: 10_000, cpuMs: 10_000, memoryMb: 64, apiCalls: 100, outputBytes: 1 << 20 }

/** Runs one warm-up request through `tenant`; throws if it failed. */
async function warmUp(tenant: TenantIsolate, bridge: HostBridge, source: string, input: HttpRequestData): Promise<void> {
  const ref: ProgramRef = { tenantId: tenant.tenantId, scriptId: 'warm-up', version: 1, sourceHash: 'warm-up', source }
  const program = await tenant.program(ref)
  const run = bridge.begin(ref.tenantId, new LimitEnforcer(WARM_UP_LIMITS))
  program.dispatch(run, 'fetch', runArgs({ kind: 'fetch', input, env: {} }), 1 << 20)
  const timeout = new AbortController()
  const result = await Promise.race([
    run.result.finally(() => timeout.abort()),
    sleep(10_000, undefined, { signal: timeout.signal }).then(() => {
      throw new Error('the platform warm-up run did not finish within 10 s')
    }),
  ])
  if (result.error !== undefined || result.failure !== undefined) {
    throw new Error(`the platform warm-up run failed: ${result.error?.message ?? result.failure?.message}`)
  }
}

/**
 * The platform with V8 code cache that this process made: compiled in a scratch isolate, run
 * through a warm-up request (so the functions a run needs are compiled, not only the top level),
 * then serialised, for the core and for the chunks the warm-up loaded (the URL chunk). Every new
 * isolate then deserialises instead of compiling. The other chunks get no cache: a cache brings
 * in every function the warm-up compiled, used or not. Measured for the URL chunk, 1000 warm
 * tenants: its cache costs ~10 KiB a tenant and takes a URL-parsing tenant's cold start from
 * 4.5 to 3.3 ms.
 *
 * The cache holds machine-level data V8 trusts: it is only ever produced here, in this process,
 * never read from outside (isolated-vm CVE-2022-39266).
 */
export async function platformCode(platform: PlatformSource): Promise<PlatformCode> {
  const bridge = new HostBridge(HostRegistry.withDefaults())
  const uncached = new Map(Object.entries(platform.chunks).map(([name, source]) => [name, { source }]))
  const tenant = new TenantIsolate({ tenantId: 'isogate:warm-up', memoryMb: 64, platform: { source: platform.source, chunks: uncached }, bridge, maxPrograms: 1 })
  try {
    await warmUp(tenant, bridge, WARM_UP, { method: 'POST', url: 'https://warm.test/up?x=1', headers: [['content-type', 'text/plain']], body: 'body', params: {} })
    const chunks = new Map<string, PlatformScript>(uncached)
    for (const name of tenant.loadedChunks) {
      const { source } = uncached.get(name) as { source: string }
      chunks.set(name, { source, cachedData: tenant.produceCodeCache(chunkFilename(name), source) })
    }
    return { source: platform.source, cachedData: tenant.produceCodeCache(PLATFORM_FILENAME, platform.source), chunks }
  } finally {
    tenant.retire()
  }
}
