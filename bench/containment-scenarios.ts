import { crashContainmentUnderLoad } from './crash-containment.js'
import type { Measurement } from './load.js'
import { noisyNeighbour } from './noisy-neighbour.js'
import type { Mode } from './report.js'
import type { Deployer } from './scenarios.js'
import type { BenchServer } from './servers.js'

/**
 * `crashConnections`: the crash rows' load, the one bench/slo.json names (`neighbours-crashing@50`),
 * so a quick pass judges them too.
 */
const PLANS: Record<Mode, { seconds: number; connections: number; crashers: number; noisyConnections: number; crashConnections: number }> = {
  full: { seconds: 10, connections: 50, crashers: 4, noisyConnections: 50, crashConnections: 50 },
  quick: { seconds: 4, connections: 20, crashers: 2, noisyConnections: 20, crashConnections: 50 },
  // Each crash load's one crash comes at 0.5 s (crash-containment.ts): 0.75 s still holds it.
  smoke: { seconds: 0.75, connections: 5, crashers: 2, noisyConnections: 5, crashConnections: 5 },
}

/**
 * Issue 20's scenarios, after the others (they crash runners): the crash-under-load rows for
 * tenants on the crashed runner and on the others, then the co-located noisy neighbours.
 */
export async function containmentScenarios(mode: Mode, server: BenchServer, deploy: Deployer, runners: number): Promise<Measurement[]> {
  const plan = PLANS[mode]
  const noisy = await noisyNeighbour(server, deploy, { runners, connections: plan.connections, noisyConnections: plan.noisyConnections, seconds: plan.seconds, spinCpuMs: 50 })
  const crash = await crashContainmentUnderLoad(server, deploy, { runners, tenants: 2, crashers: plan.crashers, connections: plan.crashConnections, seconds: plan.seconds })
  return [...noisy, ...crash]
}
