import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import ivm from 'isolated-vm'
import t from 'tap'
import { IsolatePool } from '../runner/index.js'
import { bodyText, fetchTask } from './helpers/programs.js'
import { rootPath } from './helpers/paths.js'
import { collectGarbageAtExit } from '../runner/thread/collect-garbage.js'
import { tempFolder } from './helpers/temp.js'

// An isolate lives on this process's main thread below: it collects its heap as it exits, or it
// may abort there (runner/thread/collect-garbage.ts).
collectGarbageAtExit()

// A build script in JavaScript, without declarations; loaded from the checkout, since dist/ holds only what tsc builds.
const { DOM_GLOBALS, OUTPUT, OWN_GLOBALS, generate } = await import(pathToFileURL(rootPath('runner/platform-types.mjs')).href)

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const declarations = rootPath('runner/platform/isogate.d.ts')
const declared: string[] = [...(DOM_GLOBALS as string[]), ...(OWN_GLOBALS as string[])].sort()

async function compile(source: string): Promise<{ code: number; output: string }> {
  const dir = tempFolder(t, 'isogate-types-')
  writeFileSync(path.join(dir, 'script.ts'), source)
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: [], strict: true, noEmit: true },
    files: ['script.ts', declarations],
  }))
  return promisify(execFile)(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')]).then(
    () => ({ code: 0, output: '' }),
    (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
  )
}

t.test('isogate-globals.d.ts is what runner/platform-types.mjs generates', async (t) => {
  t.equal(readFileSync(OUTPUT as string, 'utf8'), generate(), 'run `node runner/platform-types.mjs` after changing the list of globals')
})

t.test('the declared globals are exactly the isolate\'s globals: its own and those loaded on first use', async (t) => {
  const bare = new ivm.Isolate({ memoryLimit: 16 })
  const builtins = new Set(bare.createContextSync().evalSync('Object.getOwnPropertyNames(globalThis)', { copy: true }) as string[])
  bare.dispose()
  const pool = new IsolatePool({ threads: 1 })
  t.teardown(() => pool.close())
  const result = await pool.run(fetchTask('tenant-types', 'export default { fetch() { return Response.json([...Object.getOwnPropertyNames(globalThis), ...Object.getOwnPropertyNames(Object.getPrototypeOf(globalThis))]) } }'))
  const own = (JSON.parse(bodyText(result.response?.body)) as string[]).filter((name) => !builtins.has(name)).sort()
  // `console` is V8's own in a bare context too; the platform replaces it.
  t.same(own, declared.filter((name) => !builtins.has(name)))
  t.ok(builtins.has('console') && declared.includes('console'))
})

t.test('a script using the Workers APIs type-checks with lib ES2022 and isogate.d.ts, and one using an API isogate lacks does not', async (t) => {
  const good = await compile(`import type { ExportedHandler } from '${declarations.replace(/\.d\.ts$/, '.js')}'
export default {
  async fetch(request, env, ctx) {
    const form = await request.formData()
    const file = form.get('f')
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('k'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    const mac = await crypto.subtle.sign('HMAC', key, new Uint8Array(1))
    const same: boolean = crypto.subtle.timingSafeEqual(mac, mac)
    const stream = new ReadableStream({ start(c) { c.close() } }).pipeThrough(new CompressionStream('gzip'))
    const match = new URLPattern({ pathname: '/a/:id' }).exec(request.url)?.pathname.groups.id
    const id = setInterval(() => {}, 10); clearInterval(id)
    ctx.waitUntil(scheduler.wait(1))
    const info = { ua: navigator.userAgent, now: performance.now(), file: file instanceof File ? file.name : null, same, match }
    return new Response(stream, { headers: { 'x-info': JSON.stringify(info) } })
  },
} satisfies ExportedHandler
`)
  t.equal(good.code, 0, good.output)
  const bad = await compile(`export default {
  async fetch() {
    const cached = await caches.default.match('https://example.com')
    return cached ?? new Response(document.title)
  },
}
`)
  t.not(bad.code, 0, 'tsc fails')
  t.match(bad.output, /Cannot find name 'caches'/)
  t.match(bad.output, /Cannot find name 'document'/)
})

t.test('the README compatibility table lists every global, and only globals the isolate has', async (t) => {
  const readme = readFileSync(rootPath('README.md'), 'utf8')
  const start = readme.indexOf('| API | Supported | Notes |')
  t.ok(start > 0, 'the README has the compatibility table')
  const rows = readme.slice(start).split('\n').slice(2).filter((line) => line.startsWith('| '))
  const listed = new Map<string, string>()
  for (const row of rows) {
    const [api, supported] = row.split('|').slice(1, 3).map((cell) => cell.trim())
    for (const name of (api ?? '').matchAll(/`([A-Za-z:.]+)`/g)) listed.set((name[1] as string).split('.')[0] as string, supported ?? '')
  }
  for (const name of declared) t.equal(listed.get(name), 'yes', `${name} is in the table as supported`)
  for (const [name, supported] of listed) {
    if (supported !== 'yes' || name.startsWith('node:')) continue
    t.ok(declared.includes(name), `${name} is listed as supported and is a global of the isolate`)
  }
  for (const module of ['node:buffer', 'node:events', 'node:util', 'node:assert', 'node:crypto']) t.equal(listed.get(module), 'yes', `${module} is listed`)
})
