import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { cliEnvironment } from '../../config/cli.js'
import { runCli as runCliProgram } from '../../src/cli/program.js'
import type { Test } from 'tap'
import { BUILT, modulePath, ROOT } from './paths.js'
import { tempFolder } from './temp.js'

const MAIN = modulePath('src/cli/main.ts')
/** Under tsx, tsx's loader by its URL: the CLI runs in a project folder that has no tsx of its own. */
const LOADER = BUILT ? [] : ['--import', import.meta.resolve('tsx/esm')]

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** The environment a CLI run sees: the given variables only, plus what Node needs. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...extra }
}

/** Starts `isogate <args>` as a user's shell would: from the build in dist/ (what the bin runs once built), or from the TypeScript source. */
export function startCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): ChildProcess {
  return spawn(process.execPath, ['--no-node-snapshot', ...LOADER, MAIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** Runs `isogate <args>` to its end; `input` is written to its stdin. */
export function runCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<CliResult> {
  const child = startCli(args, options)
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`isogate ${args.join(' ')} did not end in time; stderr: ${stderr}`))
    }, options.timeoutMs ?? 30_000)
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin?.end(options.input ?? '')
  })
}

const readers = new WeakMap<ChildProcess, { lines: any[]; waiters: Set<() => void>; stderr: string }>()

/** Every JSON line `child` prints on stdout, kept from its start, so none is missed between two waits. */
function reader(child: ChildProcess): { lines: any[]; waiters: Set<() => void>; stderr: string } {
  let state = readers.get(child)
  if (state !== undefined) return state
  const created = { lines: [] as any[], waiters: new Set<() => void>(), stderr: '' }
  state = created
  readers.set(child, created)
  let buffer = ''
  child.stderr?.on('data', (chunk: Buffer) => (created.stderr += chunk.toString()))
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let end: number
    while ((end = buffer.indexOf('\n')) !== -1) {
      const text = buffer.slice(0, end)
      buffer = buffer.slice(end + 1)
      if (text.trim() !== '') created.lines.push(JSON.parse(text))
    }
    for (const wake of [...created.waiters]) wake()
  })
  return created
}

/** The first line `child` printed (or prints) since the last one this returned that `until` accepts. */
export function jsonLines(child: ChildProcess, until: (line: any) => boolean, timeoutMs = 20_000): Promise<any> {
  const state = reader(child)
  return new Promise((resolve, reject) => {
    const look = (): boolean => {
      const index = state.lines.findIndex(until)
      if (index === -1) return false
      const [line] = state.lines.splice(0, index + 1).slice(-1)
      resolve(line)
      return true
    }
    if (look()) return
    const wake = (): void => {
      if (!look()) return
      clearTimeout(timer)
      state.waiters.delete(wake)
    }
    const timer = setTimeout(() => {
      state.waiters.delete(wake)
      reject(new Error(`no such line in time; lines so far: ${JSON.stringify(state.lines).slice(0, 2000)}; stderr: ${state.stderr}`))
    }, timeoutMs)
    state.waiters.add(wake)
  })
}

/** A project folder in the temp dir, removed when `t` ends, that resolves npm packages from this repository's node_modules. */
export function projectDir(t: Test, files: Record<string, string>): string {
  const dir = tempFolder(t, 'isogate-cli-')
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    writeFileSync(path.join(dir, file), text)
  }
  return dir
}

/**
 * Runs `isogate <args>` in this process: the same program, with its own streams, folder and
 * environment (a Node process per call costs seconds on a loaded machine; the bin and the
 * long-running commands are tested as processes).
 */
export async function cliInProcess(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<CliResult> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const stdin = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
  stdin.end(options.input ?? '')
  const code = await runCliProgram(args, { stdin, stdout, stderr, cwd: options.cwd, env: cliEnvironment(options.env), exitCode: 0 })
  return { code, stdout: out, stderr: err }
}
