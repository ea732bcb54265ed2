import { createRequire } from 'node:module'
import type * as Uws from 'uWebSockets.js'
import { GatewayError } from './errors.js'

export type { Uws }

const require = createRequire(import.meta.url)

/**
 * Loads the native uWebSockets.js binary for this platform and Node ABI, and nothing else.
 * The package's entry point silently falls back to a pure-JS server when the binary does not
 * load (or when UWS_USE_FALLBACK is set); isogate refuses to start on that instead.
 */
export function loadUws(abi: string = process.versions.modules): typeof Uws {
  const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${abi}.node`
  let native: typeof Uws
  try {
    native = require(binary) as typeof Uws
  } catch (error) {
    throw new GatewayError(
      'UWS_NATIVE_MISSING',
      `the native uWebSockets.js binary ${binary} did not load (Node ABI ${abi}); isogate will not run on the JS fallback`,
      { cause: error },
    )
  }
  if (typeof native.App !== 'function') throw new GatewayError('UWS_NATIVE_MISSING', `${binary} is not a uWebSockets.js build`)
  // No `uWebSockets: 20` banner on every response: the server's make and version are nobody's
  // business. `_cfg('silent')` sets the loop's no-mark flag (uWS LoopData::noMark).
  ;(native as unknown as { _cfg(key: string): void })._cfg('silent')
  return native
}
