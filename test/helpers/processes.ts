import { readdirSync, readFileSync } from 'node:fs'

/**
 * Pids of a process's Node children (by default this one's: the runner processes), read from /proc
 * (Linux). Other children are left out: under tsx each Node process has an esbuild service child.
 */
export function childPids(parent: number = process.pid): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent) continue
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'esbuild') continue
      pids.push(Number(entry))
    } catch {
      // The process ended between readdir and read: it is not a child any more.
    }
  }
  return pids
}

/** Whether a process exists (signal 0 probes without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
