// Ad-hoc, not committed (.probe is gitignored): hello@100 for workerd, isogate (default sampling)
// and isogate with recording off, alternating, same run.
import { load } from '../bench/load.js'
import { SCRIPTS, deployer } from '../bench/scenarios.js'
import { startIsogateServer } from '../bench/servers.js'
import { startWorkerd } from '../bench/workerd-server.js'
const seconds = Number(process.argv[2] ?? 5), rounds = Number(process.argv[3] ?? 3), conns = Number(process.argv[4] ?? 100)
const workerd = await startWorkerd(SCRIPTS.hello)
const on = await startIsogateServer()
const off = await startIsogateServer({ ISOGATE_RECORD_HTTP: 'false' })
for (const s of [on, off]) await deployer(s.adminPort, s.token).deploy('t0', SCRIPTS.hello)
const rows: Record<string, Array<{ rps: number; cpu: number; p99: number; non2xx: number; errors: number }>> = { workerd: [], sampled: [], off: [] }
const run = async (name: string, s: any, path: string) => { const m = await load(s, { port: s.port, paths: [path], connections: conns, seconds }); rows[name]!.push({ rps: m.rps, cpu: m.cpuMicrosPerRequest, p99: m.p99, non2xx: m.non2xx, errors: m.errors }) }
await run('sampled', on, '/t0/run'); await run('off', off, '/t0/run'); await run('workerd', workerd, '/')
for (const k of Object.keys(rows)) rows[k]!.length = 0
for (let i = 0; i < rounds; i++) { await run('workerd', workerd, '/'); await run('sampled', on, '/t0/run'); await run('off', off, '/t0/run') }
console.log(JSON.stringify(rows, null, 1))
for (let i = 0; i < rounds; i++) {
  const w = rows.workerd![i]!, s = rows.sampled![i]!, o = rows.off![i]!
  console.log(`round ${i + 1}: workerd ${w.rps.toFixed(0)} req/s ${w.cpu.toFixed(0)} us | sampled ${s.rps.toFixed(0)} ${s.cpu.toFixed(0)} us | off ${o.rps.toFixed(0)} ${o.cpu.toFixed(0)} us | sampled/off ${(s.rps / o.rps).toFixed(2)} | sampled/workerd ${(s.rps / w.rps).toFixed(2)} cpu ${(s.cpu / w.cpu).toFixed(2)}x`)
}
await Promise.all([workerd.stop(), on.stop(), off.stop()])
