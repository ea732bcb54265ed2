import { failedRun, type RunResult } from '../protocol.js'
import { registerRemoteHostApis, type HostRelaySettings } from '../host-relay.js'
import type { PlatformSource } from '../process/platform-source.js'
import { HostRegistry } from './host-bridge.js'
import { registerSocketHostApis, type HostCallSocket, type HostSocketSettings } from './host-call-socket.js'
import { IsolateHost } from './isolate-host.js'
import { platformCode } from './platform-cache.js'

/** What a thread that holds tenant isolates starts from (a worker thread's settings, less its claims). */
export interface ThreadHostSettings {
  platformSource: PlatformSource
  maxIsolates: number
  isolateIdleMs: number
  maxProgramsPerTenant: number
  /** The heap limit (MB) of the isolates made ahead for cold starts (isolate-host.ts); without it, the last cold start's. */
  blankMemoryMb?: number | undefined
  /**
   * Modules whose default export registers host APIs: `(registry: HostRegistry) => void`. This is
   * how host APIs that live outside runner/ (db, fetch, cache, events) plug into every worker.
   */
  hostApiModules?: string[] | undefined
  /** Host APIs answered by the pool's owner (the gateway's db, cache, events, fetch): see host-relay.ts. */
  hostRelay?: HostRelaySettings | undefined
  /** Host APIs answered by the gateway, which this thread reaches over a socket of its own (host-call-socket.ts). */
  hostSocket?: HostSocketSettings | undefined
}

/**
 * The isolate host of a thread and its host APIs: the defaults (timers, crypto), the modules the
 * settings name, and those the gateway answers (over the thread's own socket, or relayed through
 * the pool's owner). The platform is compiled here, its code cache made in this process. A worker
 * thread makes one at its start (worker.ts); so does a runner process without worker threads, on
 * its own thread (process/inline-pool.ts). `steps`: where the thread marks its synchronous steps
 * for its shard to see (run-claims.ts), a worker thread's only.
 *
 * @example
 * const { host, hostSocket } = await startIsolateHost(settings)
 */
export async function startIsolateHost(settings: ThreadHostSettings, steps?: Int32Array): Promise<{ host: IsolateHost; hostSocket: HostCallSocket | null }> {
  const registry = HostRegistry.withDefaults()
  for (const url of settings.hostApiModules ?? []) {
    const module = (await import(url)) as { default: (registry: HostRegistry) => void }
    module.default(registry)
  }
  if (settings.hostRelay !== undefined) registerRemoteHostApis(registry, settings.hostRelay)
  const hostSocket = settings.hostSocket === undefined ? null : registerSocketHostApis(registry, settings.hostSocket)
  const host = new IsolateHost({
    platform: await platformCode(settings.platformSource),
    maxIsolates: settings.maxIsolates,
    isolateIdleMs: settings.isolateIdleMs,
    maxProgramsPerTenant: settings.maxProgramsPerTenant,
    ...(settings.blankMemoryMb === undefined ? {} : { blankMemoryMb: settings.blankMemoryMb }),
    registry,
    ...(steps === undefined ? {} : { steps }),
  })
  return { host, hostSocket }
}

/** A run's result when IsolateHost.run threw: it answers every failure as a result, so a throw is a bug of the host's own. */
export function hostFault(error: unknown): RunResult {
  return failedRun({ code: 'SCRIPT_ERROR', message: error instanceof Error ? error.message : String(error) })
}
