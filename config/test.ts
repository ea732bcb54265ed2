import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, type Config, type ConfigOverrides } from './index.js'

/**
 * Configuration for tests: free ports, a throwaway data folder, quiet logs, two workers, no demo.
 * The database is the embedded one unless the caller passes `databaseUrl`.
 * The environment is not read, so a developer's shell cannot change what a test sees.
 */
export function testConfig(overrides: ConfigOverrides = {}): Config {
  return loadConfig(
    {
      port: 0,
      adminPort: 0,
      dataDir: mkdtempSync(path.join(os.tmpdir(), 'isogate-test-')),
      adminToken: 'test-admin-token',
      workers: 2,
      // One runner process and no standby keep the many test gateways light; crash tests ask for more.
      runners: 1,
      runnerStandby: 0,
      runnerProbation: 'on-demand',
      demo: false,
      logLevel: 'silent',
      ...overrides,
    },
    {},
  )
}
