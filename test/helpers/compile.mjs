// Run by `npm test` before tap: type-checks the whole project and builds it, tests included, into
// dist/ (tap then runs dist/test with test/built.taprc). dist/test is emptied first, so a test file
// deleted from test/ does not run on from an old build.
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
rmSync(path.join(root, 'dist/test'), { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' })
