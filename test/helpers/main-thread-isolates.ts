import { collectGarbageAtExit } from '../../runner/thread/collect-garbage.js'
import { HostBridge, HostRegistry } from '../../runner/thread/host-bridge.js'
import { platformCode } from '../../runner/thread/platform-cache.js'
import { readPlatformSource } from '../../runner/process/platform-source.js'

/**
 * For tests that hold tenant isolates on the test process's own main thread, with no pool or
 * worker thread around them: the platform's source and its compiled code, one host bridge with
 * the default host APIs, and the collection at exit without which such a process may abort there
 * (runner/thread/collect-garbage.ts).
 */
collectGarbageAtExit()

export const platformSource = readPlatformSource()
export const platform = await platformCode(platformSource)
export const bridge = new HostBridge(HostRegistry.withDefaults())
