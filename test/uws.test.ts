import { createRequire } from 'node:module'
import t from 'tap'
import { loadUws } from '../gateway/index.js'

t.test('the native uWebSockets.js binary loads for this Node ABI', async (t) => {
  const uws = loadUws()
  t.type(uws.App, 'function')
  const require = createRequire(import.meta.url)
  const loaded = Object.keys(require.cache)
  t.ok(loaded.some((file) => file.endsWith(`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`)), 'the .node binary is what loaded')
  t.notOk(loaded.some((file) => /uWebSockets\.js\/dist\//.test(file)), 'the JS fallback never loaded')
})

t.test('isogate refuses to start when no native binary matches instead of using the JS fallback', async (t) => {
  t.throws(() => loadUws('1'), { name: 'GatewayError', code: 'UWS_NATIVE_MISSING', message: /will not run on the JS fallback/ })
})
