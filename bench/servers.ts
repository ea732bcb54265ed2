import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** A server the bench drives, in its own process so its CPU can be read from /proc. */
export interface BenchServer {
  pid: number
  port: number
  adminPort: number
  stop(): Promise<void>
}

const here = fileURLToPath(new URL('.', import.meta.url))
const fromSource = import.meta.url.endsWith('.ts')
const root = fromSource ? path.resolve(here, '..') : path.resolve(here, '../..')

/**
 * Node arguments that run one of the project's modules (`bench/uws-baseline`) the way this one
 * runs: from source under tsx, or compiled from dist/. `nodeFlags` go before it, `scriptArgs` after.
 */
export function nodeArgs(script: string, nodeFlags: string[] = [], scriptArgs: string[] = []): string[] {
  const file = fromSource ? path.join(root, `${script}.ts`) : path.join(root, 'dist', `${script}.js`)
  const loader = fromSource ? ['--import', 'tsx'] : []
  return ['--no-node-snapshot', ...nodeFlags, ...loader, file, ...scriptArgs]
}

function waitFor(child: ChildProcess, pattern: RegExp, timeoutMs = 120_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const match = pattern.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)))
  })
}

/**
 * Stops the server (SIGTERM, SIGKILL after `killAfterMs`); then removes its data folder, if it has
 * one (a full bench's database is gigabytes).
 */
export function stopper(child: ChildProcess, dataDir?: string, killAfterMs = 10_000): () => Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), killAfterMs).unref()
    }
    await stopped
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The baseline: a raw uWebSockets.js hello world, the fastest this machine answers HTTP. */
export async function startBaseline(): Promise<BenchServer> {
  const child = spawn(process.execPath, nodeArgs('bench/uws-baseline'), { stdio: ['ignore', 'pipe', 'pipe'] })
  const match = await waitFor(child, /listening on (\d+)/)
  return { pid: child.pid as number, port: Number(match[1]), adminPort: 0, stop: stopper(child) }
}

/**
 * A fresh isogate on the embedded database, its own ports, queues roomy enough for load.
 * `nodeFlags` go to the gateway and, inherited, to its runner processes (`--cpu-prof`).
 */
export async function startIsogateServer(env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<BenchServer & { token: string }> {
  const token = 'bench-admin-token'
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'isogate-bench-'))
  const child = spawn(process.execPath, nodeArgs('src/main', nodeFlags), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      ADMIN_PORT: '0',
      ISOGATE_DATA_DIR: dataDir,
      ISOGATE_ADMIN_TOKEN: token,
      ISOGATE_DEMO: 'false',
      ISOGATE_LOG_LEVEL: 'warn',
      // The test suite's smoke run passes its migrated empty database to copy, rather than create one (seconds of CPU).
      ...(process.env.ISOGATE_EMBEDDED_TEMPLATE === undefined ? {} : { ISOGATE_EMBEDDED_TEMPLATE: process.env.ISOGATE_EMBEDDED_TEMPLATE }),
      // The product's default admission settings (issue 22: the 1,000-connection rows must pass
      // with them): caps on runs in flight (64 per tenant, 512 overall) keep a flooding tenant's
      // excess in the gateway's fair queue, and a tenant is shed by its runs' wait, not by a
      // queue length.
      ...env,
    },
  })
  const stop = stopper(child, dataDir)
  let match: RegExpExecArray
  try {
    match = await waitFor(child, /data plane\s+http:\/\/[\d.]+:(\d+)[\s\S]*control plane\s+http:\/\/[\d.]+:(\d+)/)
  } catch (error) {
    await stop()
    throw error
  }
  return { pid: child.pid as number, port: Number(match[1]), adminPort: Number(match[2]), token, stop }
}

/** CPU time (µs) of a process and all its descendants, living or reaped, from /proc (Linux clock ticks). */
export function treeCpuMicros(pid: number): number {
  const ticks = 100
  let total = 0
  const visit = (id: number): void => {
    let stat: string
    try {
      stat = readFileSync(`/proc/${id}/stat`, 'utf8')
    } catch {
      return // the process ended between listing and reading
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime + stime, and cutime + cstime: the children it has reaped, such as a runner that
    // crashed during the load, whose time would otherwise leave the tree with them.
    total += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticks) * 1e6
    for (const task of safeList(`/proc/${id}/task`)) {
      for (const child of safeRead(`/proc/${id}/task/${task}/children`).split(' ').filter(Boolean)) visit(Number(child))
    }
  }
  visit(pid)
  return total
}

/** Resident memory (bytes) of a process tree. */
export function treeRssBytes(pid: number): number {
  let total = 0
  const visit = (id: number): void => {
    const status = safeRead(`/proc/${id}/status`)
    const match = /VmRSS:\s+(\d+) kB/.exec(status)
    if (match) total += Number(match[1]) * 1024
    for (const task of safeList(`/proc/${id}/task`)) {
      for (const child of safeRead(`/proc/${id}/task/${task}/children`).split(' ').filter(Boolean)) visit(Number(child))
    }
  }
  visit(pid)
  return total
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return '' // gone: the process exited
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return [] // gone: the process exited
  }
}
