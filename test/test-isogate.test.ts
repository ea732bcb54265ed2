import t from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { startTestIsogate } from './helpers/isogate.js'
import { tempFolder } from './helpers/temp.js'

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

t.test('a temporary folder goes when its test ends, after what the test started in it later was closed', async (t) => {
  let folder = ''
  let presentAtClose: boolean | null = null
  await t.test('a test with a folder and a teardown of its own', async (t) => {
    folder = tempFolder(t, 'isogate-temp-check-')
    writeFileSync(path.join(folder, 'held'), 'x')
    t.teardown(() => {
      presentAtClose = existsSync(path.join(folder, 'held'))
    })
    t.ok(existsSync(folder))
  })
  t.equal(presentAtClose, true, "the test's own teardown (registered later) ran while the folder was there")
  t.notOk(existsSync(folder), 'gone once the test ended')
})
