import { readFileSync } from 'node:fs'
import t from 'tap'
import { ConfigError, loadConfig, settings } from '../config/index.js'
import { rootPath } from './helpers/paths.js'

t.test('defaults apply when nothing is set', async (t) => {
  const config = loadConfig({}, {})
  t.equal(config.host, '127.0.0.1')
  t.equal(config.port, 8080)
  t.equal(config.adminPort, 8081)
  t.equal(config.databaseUrl, undefined)
  t.equal(config.dataDir, './.isogate')
  t.equal(config.adminToken, undefined)
  t.equal(config.workers, 0, 'runs on the runner processes\' own thread by default')
  t.equal(config.memoryMb, 64)
  t.equal(config.sourceBytes, 100 * 1024)
})

t.test('the environment overrides defaults and explicit values override the environment', async (t) => {
  const env = { PORT: '9090', ISOGATE_WORKERS: '3', ISOGATE_DEMO: 'false', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' }
  const fromEnv = loadConfig({}, env)
  t.equal(fromEnv.port, 9090)
  t.equal(fromEnv.workers, 3)
  t.equal(fromEnv.demo, false)
  t.equal(fromEnv.databaseUrl, 'postgres://u@127.0.0.1:5432/db')
  t.equal(loadConfig({ port: 7070 }, env).port, 7070)
})

t.test('a bad value stops loading with an error naming the setting and its variable', async (t) => {
  const attempt = (env: Record<string, string>) => () => loadConfig({}, env)
  t.throws(attempt({ PORT: 'eighty' }), { name: 'ConfigError', code: 'CONFIG_INVALID', setting: 'port', message: /port \(PORT\)/ })
  t.throws(attempt({ PORT: '70000' }), { name: 'ConfigError', setting: 'port' })
  t.throws(attempt({ ISOGATE_WORKERS: '-1' }), { setting: 'workers', message: /ISOGATE_WORKERS/ })
  t.throws(attempt({ ISOGATE_WORKERS: '1.5' }), { setting: 'workers', message: /ISOGATE_WORKERS/ })
  t.throws(attempt({ ISOGATE_WORKERS: '257' }), { setting: 'workers', message: /ISOGATE_WORKERS/ })
  t.throws(attempt({ DATABASE_URL: 'mysql://x' }), { setting: 'databaseUrl', message: /postgres:\/\// })
  t.throws(attempt({ ISOGATE_ADMIN_TOKEN: 'short' }), { name: 'ConfigError', setting: 'adminToken' })
  t.throws(attempt({ ISOGATE_LOG_LEVEL: 'loud' }), ConfigError)
})

t.test('the configuration is frozen', async (t) => {
  const config = loadConfig({}, {}) as unknown as Record<string, unknown>
  t.ok(Object.isFrozen(config))
  t.throws(() => {
    'use strict'
    config.port = 1
  }, TypeError)
})

t.test('every setting is documented in the README configuration table', async (t) => {
  const readme = readFileSync(rootPath('README.md'), 'utf8')
  for (const spec of Object.values(settings)) t.match(readme, `| \`${spec.env}\``, `${spec.env} is in the README`)
})

t.test('egress settings take a CIDR list and a JSON host allowlist, and a bad one names its variable', async (t) => {
  const defaults = loadConfig({}, {})
  t.same(defaults.egressAllowPrivate, [])
  t.equal(defaults.egressAllowedHosts, undefined)
  t.equal(defaults.egressConnectTimeoutMs, 5000)
  t.equal(defaults.egressTimeoutMs, 30_000)
  t.equal(defaults.egressMaxResponseBytes, 5 * 1024 * 1024)

  const config = loadConfig({}, {
    ISOGATE_EGRESS_ALLOW_PRIVATE: '127.0.0.2/32, 10.1.0.0/16,fd12::/64',
    ISOGATE_EGRESS_ALLOWED_HOSTS: '{"acme": ["api.example.com", "*.example.net", "[::1]"]}',
  })
  t.same(config.egressAllowPrivate, ['127.0.0.2/32', '10.1.0.0/16', 'fd12::/64'])
  t.same(config.egressAllowedHosts, { acme: ['api.example.com', '*.example.net', '[::1]'] })

  const attempt = (env: Record<string, string>) => () => loadConfig({}, env)
  t.throws(attempt({ ISOGATE_EGRESS_ALLOW_PRIVATE: '127.0.0.2/33' }), { setting: 'egressAllowPrivate', message: /ISOGATE_EGRESS_ALLOW_PRIVATE.*not a CIDR/ })
  t.throws(attempt({ ISOGATE_EGRESS_ALLOWED_HOSTS: '{nope' }), { setting: 'egressAllowedHosts', message: /must be a JSON object/ })
  t.throws(attempt({ ISOGATE_EGRESS_ALLOWED_HOSTS: '{"acme": ["exa mple.com"]}' }), { setting: 'egressAllowedHosts', message: /not a host pattern/ })
  t.throws(attempt({ ISOGATE_EGRESS_ALLOWED_HOSTS: '{"acme": "api.example.com"}' }), { setting: 'egressAllowedHosts', message: /expected array/ })
})

t.test('egress name mappings and the extra CA file are checked at boot', async (t) => {
  const ca = rootPath('test/fixtures/cloudflare-examples/upstream-ca.crt')
  const config = loadConfig({}, { ISOGATE_EGRESS_RESOLVE: ' api.internal:443:10.0.0.7 , legacy.internal:80:[fd12::7]:8080', ISOGATE_EGRESS_CA_FILE: ca })
  t.same(config.egressResolve, ['api.internal:443:10.0.0.7', 'legacy.internal:80:[fd12::7]:8080'])
  t.equal(config.egressCaFile, ca)
  t.same(loadConfig({}, {}).egressResolve, [])
  const attempt = (env: Record<string, string>) => () => loadConfig({}, env)
  t.throws(attempt({ ISOGATE_EGRESS_RESOLVE: 'api.internal:10.0.0.7' }), { setting: 'egressResolve', message: /ISOGATE_EGRESS_RESOLVE.*host:port:address/ })
  t.throws(attempt({ ISOGATE_EGRESS_RESOLVE: '*.internal:443:10.0.0.7' }), { setting: 'egressResolve', message: /ISOGATE_EGRESS_RESOLVE/ })
  t.throws(attempt({ ISOGATE_EGRESS_RESOLVE: 'a.internal:443:10.0.0.7,A.internal:443:10.0.0.8' }), { setting: 'egressResolve', message: /a\.internal:443 is mapped twice/ })
  t.throws(attempt({ ISOGATE_EGRESS_CA_FILE: '/nonexistent/ca.pem' }), { setting: 'egressCaFile', message: /cannot read \/nonexistent\/ca\.pem: ENOENT/ })
  t.throws(attempt({ ISOGATE_EGRESS_CA_FILE: rootPath('package.json') }), { setting: 'egressCaFile', message: /holds no PEM certificate/ })
})

t.test("a tenant's CPU share of a worker thread is half a core unless set, and must be above 0 and at most 1", async (t) => {
  t.equal(loadConfig({}, {}).tenantCpuShare, 0.5)
  t.equal(loadConfig({}, { ISOGATE_TENANT_CPU_SHARE: '0.25' }).tenantCpuShare, 0.25)
  t.throws(() => loadConfig({}, { ISOGATE_TENANT_CPU_SHARE: '0' }), { setting: 'tenantCpuShare', message: /ISOGATE_TENANT_CPU_SHARE/ })
  t.throws(() => loadConfig({}, { ISOGATE_TENANT_CPU_SHARE: '1.5' }), { setting: 'tenantCpuShare', message: /ISOGATE_TENANT_CPU_SHARE/ })
})

t.test("runners' timer slack is 1 ms unless set; 0 leaves the kernel's, and it is a whole number of microseconds up to 20 ms", async (t) => {
  t.equal(loadConfig({}, {}).runnerTimerSlackUs, 1000)
  t.equal(loadConfig({}, { ISOGATE_RUNNER_TIMER_SLACK_US: '0' }).runnerTimerSlackUs, 0)
  t.throws(() => loadConfig({}, { ISOGATE_RUNNER_TIMER_SLACK_US: '-1' }), { setting: 'runnerTimerSlackUs', message: /ISOGATE_RUNNER_TIMER_SLACK_US/ })
  t.throws(() => loadConfig({}, { ISOGATE_RUNNER_TIMER_SLACK_US: '0.5' }), { setting: 'runnerTimerSlackUs', message: /ISOGATE_RUNNER_TIMER_SLACK_US/ })
  t.throws(() => loadConfig({}, { ISOGATE_RUNNER_TIMER_SLACK_US: '20001' }), { setting: 'runnerTimerSlackUs', message: /ISOGATE_RUNNER_TIMER_SLACK_US/ })
})
