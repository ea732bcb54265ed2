import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import t from 'tap'
import { rootPath } from './helpers/paths.js'

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

t.test('the declarations for script authors type-check a script using every host API, and refuse misuse', async (t) => {
  // test/fixtures/typed-script compiles with lib DOM and no Node types, as a script author would;
  // its @ts-expect-error lines fail the compile if the declarations accept what isogate refuses.
  const project = rootPath('test/fixtures/typed-script/tsconfig.json')
  const result = await promisify(execFile)(process.execPath, [tsc, '-p', project]).then(
    () => ({ code: 0, output: '' }),
    (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
  )
  t.equal(result.code, 0, result.output)
})
