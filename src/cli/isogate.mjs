#!/usr/bin/env node
// The `isogate` command. From a clone it runs the TypeScript sources through tsx (no build step);
// a package shipped without them runs dist/src/cli/main.js. Either way in a child Node with the flags isogate needs
// (--no-node-snapshot for isolated-vm under `isogate dev`; the loader as an absolute URL, so the
// runner processes `dev` starts load TypeScript too, from any working directory).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const built = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))
const source = fileURLToPath(new URL('./main.ts', import.meta.url))
const flags = ['--no-node-snapshot']

// A clone runs its sources (a build would go stale as they change); a package without them, its build.
if (existsSync(source) || !existsSync(built)) run([...flags, '--import', import.meta.resolve('tsx/esm'), source])
else run([...flags, built])

function run(args) {
  const child = spawn(process.execPath, [...args, ...process.argv.slice(2)], { stdio: 'inherit' })
  // Ctrl-C reaches the child from the terminal (same process group); a signal sent to this process alone is passed on.
  process.on('SIGINT', () => {})
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => {
    if (signal !== null) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
}
