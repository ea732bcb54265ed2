/**
 * A runner worker thread (piscina task module): one IsolateHost for the tenants whose home this
 * thread is. At start it compiles the platform once and keeps V8 code cache of it (made here, in
 * this process), and loads the host API modules named in its settings.
 */
import { workerData } from 'node:worker_threads'
import type { CheckResult, RunResult, RunTask } from '../protocol.js'
import { HostRegistry } from './host-bridge.js'
import { registerRemoteHostApis, type HostRelaySettings } from '../host-relay.js'
import { IsolateHost, type WorkerStats } from './isolate-host.js'
import { platformCode } from './platform-cache.js'
import type { PlatformSource } from '../process/platform-source.js'

export type { WorkerStats } from './isolate-host.js'

export interface WorkerSettings {
  platformSource: PlatformSource
  maxIsolates: number
  isolateIdleMs: number
  maxProgramsPerTenant: number
  /**
   * Modules whose default export registers host APIs: `(registry: HostRegistry) => void`. This is
   * how host APIs that live outside runner/ (db, fetch, cache, events) plug into every worker.
   */
  hostApiModules?: string[] | undefined
  /** Host APIs answered by the pool's owner (the gateway's db, cache, events, fetch): see host-relay.ts. */
  hostRelay?: HostRelaySettings | undefined
}

export type WorkerMessage =
  | { type: 'run'; task: RunTask }
  | { type: 'check'; source: string }
  | { type: 'stats' }

const settings = workerData as WorkerSettings
const registry = HostRegistry.withDefaults()
for (const url of settings.hostApiModules ?? []) {
  const module = (await import(url)) as { default: (registry: HostRegistry) => void }
  module.default(registry)
}
if (settings.hostRelay !== undefined) registerRemoteHostApis(registry, settings.hostRelay)
const host = new IsolateHost({
  platform: await platformCode(settings.platformSource),
  maxIsolates: settings.maxIsolates,
  isolateIdleMs: settings.isolateIdleMs,
  maxProgramsPerTenant: settings.maxProgramsPerTenant,
  registry,
})

export default async function handle(message: WorkerMessage): Promise<RunResult | CheckResult | WorkerStats> {
  switch (message.type) {
    case 'run':
      return host.run(message.task)
    case 'check':
      return host.check(message.source)
    case 'stats':
      return host.stats()
  }
}
