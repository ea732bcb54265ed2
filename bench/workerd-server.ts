/**
 * Cloudflare's workerd serving the bench's hello worker on loopback: the runtime isogate is
 * measured against, in the same run. The binary ships in the `workerd` npm package (a pinned dev
 * dependency; its platform package @cloudflare/workerd-linux-64 holds the executable, which runs
 * on glibc 2.36).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { stopper, type BenchServer } from './servers.js'

const require = createRequire(import.meta.url)

/** The workerd executable of the installed `workerd` package, and the compatibility date it ships. */
export function workerdBinary(): { binPath: string; version: string; compatibilityDate: string } {
  const module = require('workerd') as { default: string; version: string; compatibilityDate: string }
  return { binPath: module.default, version: module.version, compatibilityDate: module.compatibilityDate }
}

/** A port free on loopback now (workerd takes its address on the command line, not port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * The router of `startWorkerd`'s many-tenant mode: the first path segment names the tenant, whose
 * worker (a service binding, an isolate of its own) answers, as isogate routes by its first segment.
 */
const ROUTER = `export default {
  fetch(request, env) {
    const tenant = new URL(request.url).pathname.split('/')[1]
    const service = /^t\\d+$/.test(tenant) ? env[tenant] : undefined
    return service === undefined ? new Response('no such tenant', { status: 404 }) : service.fetch(request)
  },
}
`

/**
 * Starts workerd serving `source` (an ES module worker) at http://127.0.0.1:{port}/; with
 * `tenants`, that many copies of it, `t0` to `t{tenants - 1}`, each a worker of its own (an
 * isolate of its own), behind a router worker at /{tenant}/... (bench/run.ts compares
 * spreading load over them with all of it on `t0`, as isogate's many-tenant row does with hello).
 */
export async function startWorkerd(source: string, options: { tenants?: number } = {}): Promise<BenchServer> {
  const { binPath, compatibilityDate } = workerdBinary()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'isogate-workerd-'))
  writeFileSync(path.join(dir, 'worker.js'), source)
  const worker = (module: string, bindings = ''): string => `(modules = [ (name = "${module}", esModule = embed "${module}") ], compatibilityDate = "${compatibilityDate}"${bindings})`
  const tenants = Array.from({ length: options.tenants ?? 0 }, (_, i) => `t${i}`)
  let services = `(name = "main", worker = ${worker('worker.js')})`
  if (tenants.length > 0) {
    writeFileSync(path.join(dir, 'router.js'), ROUTER)
    const bindings = `, bindings = [ ${tenants.map((name) => `(name = "${name}", service = "${name}")`).join(', ')} ]`
    services = [`(name = "main", worker = ${worker('router.js', bindings)})`, ...tenants.map((name) => `(name = "${name}", worker = ${worker('worker.js')})`)].join(',\n    ')
  }
  writeFileSync(
    path.join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ ${services} ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
`,
  )
  const probe = tenants.length > 0 ? '/t0/' : '/'
  const port = await freePort()
  const child = spawn(binPath, ['serve', path.join(dir, 'config.capnp'), '--socket-addr', `http=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const stop = stopper(child, dir, 5000)
  // workerd prints nothing when it listens: ask until it answers.
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) {
      await stop()
      throw new Error(`workerd exited with ${child.exitCode}: ${output}`)
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}${probe}`)
      await response.text()
      if (response.status === 200) break
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      await stop()
      throw new Error(`workerd did not answer within 30 s: ${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    pid: child.pid as number,
    port,
    adminPort: 0,
    stop,
  }
}
