import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig, type Config, type ConfigOverrides } from './index.js'

/**
 * Where the test suite keeps an empty, migrated embedded database that a test's new data folder
 * starts as a copy of (ISOGATE_EMBEDDED_TEMPLATE): one per checkout, built before the tests by
 * test/helpers/embedded-template.ts. Without it, each embedded start creates its database.
 */
export const TEST_EMBEDDED_TEMPLATE = path.join(
  os.tmpdir(),
  `isogate-test-pgdata-${createHash('sha256').update(fileURLToPath(new URL('..', import.meta.url))).digest('hex').slice(0, 12)}`,
)

/**
 * Configuration for tests: free ports, a throwaway data folder, quiet logs, no demo.
 * The database is the embedded one unless the caller passes `databaseUrl`.
 * The environment is not read, so a developer's shell cannot change what a test sees.
 */
export function testConfig(overrides: ConfigOverrides = {}): Config {
  return loadConfig(
    {
      port: 0,
      adminPort: 0,
      adminToken: 'test-admin-token',
      // The product's default (0: runs on the runner processes' own thread, runner/process/inline-pool.ts);
      // ISOGATE_TEST_WORKERS=2 runs the test gateways that do not ask for a mode with two worker threads a runner.
      ...(process.env.ISOGATE_TEST_WORKERS === undefined ? {} : { workers: Number(process.env.ISOGATE_TEST_WORKERS) }),
      // One runner process and no standby keep the many test gateways light; crash tests ask for more.
      runners: 1,
      runnerStandby: 0,
      runnerProbation: 'on-demand',
      demo: false,
      logLevel: 'silent',
      embeddedTemplate: TEST_EMBEDDED_TEMPLATE,
      ...overrides,
      dataDir: overrides.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'isogate-test-')),
    },
    {},
  )
}
