import t from 'tap'
import { existsSync } from 'node:fs'
import { startTestIsogate } from './helpers/isogate.js'

t.test("a test gateway's data folder goes when its test ends, after the gateway closed", async (t) => {
  let dataDir = ''
  await t.test('a test with a gateway', async (t) => {
    const isogate = await startTestIsogate(t)
    dataDir = isogate.config.dataDir
    t.ok(existsSync(dataDir), 'the gateway has its data folder while it runs')
  })
  t.not(dataDir, '')
  t.notOk(existsSync(dataDir), 'gone once the test ended')
})
