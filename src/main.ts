import path from 'node:path'
import { ConfigError, loadConfig } from '../config/index.js'
import { startIsogate } from './app.js'

/** `npm start`: boot one isogate process; SIGINT or SIGTERM stop it cleanly with exit code 0. */
async function main(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`isogate: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  const isogate = await startIsogate(config)
  const host = config.host
  const lines = [
    'isogate is running',
    `  data plane     http://${host}:${isogate.dataPort}/{tenant}/{path}`,
    `  control plane  http://${config.adminHost}:${isogate.adminPort}/api/v1  (health: /healthz, /readyz)`,
    `  web console    http://${config.adminHost}:${isogate.adminPort}/  (sign in with an API key)`,
    `  database       ${isogate.db.embedded ? `embedded PGlite in ${path.resolve(config.dataDir, 'pgdata')}` : 'PostgreSQL server (DATABASE_URL)'}`,
  ]
  if (isogate.generatedAdminToken !== null) {
    lines.push(`  admin token    ${isogate.generatedAdminToken}`, `                 (shown once; a copy is in ${isogate.adminTokenFile})`)
  } else if (config.adminToken !== undefined) {
    lines.push('  admin token    the value of ISOGATE_ADMIN_TOKEN')
  } else {
    lines.push(`  admin token    generated at first start: ${path.resolve(config.dataDir, 'admin-token')}`)
  }
  if (isogate.demoAvailable) lines.push(`  try            curl http://${host}:${isogate.dataPort}/demo/hello`)
  process.stdout.write(`${lines.join('\n')}\n`)

  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    isogate.logger.info({ signal }, 'stopping')
    isogate.close().then(
      () => process.exit(0),
      (error: unknown) => {
        isogate.logger.error({ err: error }, 'stopped with errors')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`isogate failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
