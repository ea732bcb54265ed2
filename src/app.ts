import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { Config } from '../config/index.js'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { ContainmentMetrics, EarlyResponses, RouteTable, RunnerMetrics } from '../gateway/index.js'
import { RunnerSupervisor, type RunnerEvent } from '../runner/index.js'
import { createApiServer } from './api/index.js'
import { ExecutionHealthSource } from './console/index.js'
import { ApiKeyRepository } from './db/api-key.repository.js'
import { Database } from './db/index.js'
import { ScriptRepository } from './db/script.repository.js'
import { TenantRepository } from './db/tenant.repository.js'
import { startDataPlane } from './data-plane.js'
import { ChangeRelay } from './db/change-relay.js'
import { ExecutionRepository } from './db/execution.repository.js'
import { ensureDemo } from './demo.js'
import { ExecutionRecorder, recorderMetrics } from './services/execution-recorder.js'
import { ExecutionRollupRepository } from './db/execution-rollup.repository.js'
import { RollupAggregator } from './services/rollup-aggregator.js'
import { RollupRetention } from './services/rollup-retention.js'
import { ScriptStatsService } from './services/script-stats.service.js'
import { AuditService, AuthService, ChangeFeed, ExecutionRetention, ExecutionService, ScriptService, TenantService } from './services/index.js'
import { AuditRepository } from './db/audit.repository.js'
import { startTriggers } from './triggers/index.js'
import { EventRepository } from './db/event.repository.js'
import { EventService } from './triggers/event.service.js'
import { HostApis } from './host/host-apis.js'
import { TenantCache } from './host/tenant-cache.js'
import { outboundFetchApi } from './host/outbound-fetch-api.js'
import { DocumentRepository } from './db/document.repository.js'
import { DocumentStore } from './services/document-store.js'
import { SecretBox } from './services/secret-box.js'
import { SecretEnv } from './services/secret-env.js'
import { RunFeed } from './services/run-feed.js'
import { SourceMaps } from './services/source-map.js'
import { SourceMapRepository } from './db/source-map.repository.js'
import { ScriptNameRepository } from './db/script-name.repository.js'
import { LiveTail } from './services/live-tail.js'
import { AdHocExecutionService } from './services/ad-hoc-execution.service.js'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'

export interface Isogate {
  readonly config: Config
  readonly dataPort: number
  readonly adminPort: number
  /** A superadmin token generated at this start (first start, none configured), else null. */
  readonly generatedAdminToken: string | null
  readonly adminTokenFile: string | null
  readonly demoCreated: boolean
  readonly db: Database
  readonly logger: Logger
  /** The control plane's Fastify instance (tests call `api.inject` where the socket is not the point). */
  readonly api: FastifyInstance
  close(): Promise<void>
}

/**
 * Starts everything one isogate process runs: database (embedded or server), runner threads,
 * the control plane and the data plane. `close()` stops them in the reverse order.
 *
 * @example
 * const isogate = await startIsogate(loadConfig())
 * console.log(isogate.dataPort)
 * await isogate.close()
 */
export async function startIsogate(config: Config, logger: Logger = pino({ level: config.logLevel })): Promise<Isogate> {
  const closers: Array<() => Promise<void> | void> = []
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) {
      try {
        await closer()
      } catch (error) {
        logger.error({ err: error }, 'error while stopping')
      }
    }
    closers.length = 0
  }
  try {
    const db = await Database.open({ url: config.databaseUrl, dataDir: path.join(config.dataDir) })
    closers.push(() => db.close())
    // The host APIs scripts call (ctx.cache, ctx.events, ...) are answered here, in the gateway.
    let wakeDispatcher = (): void => {}
    const events = new EventService({ db, events: new EventRepository(), idempotencySeconds: config.eventIdempotencySeconds, onPublished: () => wakeDispatcher() })
    const documents = new DocumentStore({
      db,
      documents: new DocumentRepository(),
      events: new EventRepository(),
      maxDocumentBytes: config.dbMaxDocumentBytes,
      maxResultBytes: config.dbMaxResultBytes,
      onPublished: () => wakeDispatcher(),
    })
    const hostApis = new HostApis({
      cache: new TenantCache({ maxBytesPerTenant: config.cacheBytesPerTenant, maxValueBytes: config.cacheValueBytes }),
      events,
      documents,
      onFault: (error, call) => logger.error({ err: error, tenantId: call.tenantId, api: call.name, executionId: call.executionId }, 'a host API failed'),
    })
    const tenantRepository = new TenantRepository()
    hostApis.add('http.fetch', outboundFetchApi({
      allowPrivateRanges: config.egressAllowPrivate,
      allowedHosts: config.egressAllowedHosts,
      connectTimeoutMs: config.egressConnectTimeoutMs,
      timeoutMs: config.egressTimeoutMs,
      maxResponseBytes: config.egressMaxResponseBytes,
      slugOf: async (tenantId) => (await db.system((tx) => tenantRepository.findById(tx, tenantId)))?.slug ?? null,
    }))
    // A fetch handler's response goes out when it resolves, before its ctx.waitUntil work ends.
    const earlyResponses = new EarlyResponses()
    hostApis.add('run.respond', async (call) => earlyResponses.respond(call.executionId, call.args[0]), true, false)
    hostApis.add('run.chunk', async (call) => earlyResponses.chunk(call.executionId, call.args[0]), true, false)
    hostApis.add('run.end', async (call) => earlyResponses.end(call.executionId), true, false)
    // Scripts run in runner processes, never in this one: a hostile script can abort a V8 process.
    const pool = new RunnerSupervisor({
      runners: config.runners,
      standby: config.runnerStandby,
      pool: { threads: config.workers, maxIsolatesPerThread: config.isolatesPerWorker, isolateIdleMs: config.isolateIdleMs, remoteHostApis: hostApis.remote },
      hostCalls: hostApis.handler,
      quarantine: { crashes: config.quarantineCrashes, windowMs: config.quarantineWindowMs, coolDownMs: config.quarantineMs },
      probation: config.runnerProbation,
      onEvent: (event) => logRunnerEvent(logger, event),
    })
    closers.push(() => pool.close())
    await pool.ready()
    const secrets = new SecretBox(secretsKey(config, logger))
    // Every run goes through here: the script's secrets are opened on the way in, redacted from its logs on the way out.
    // ... and every finished run is published to the live tail's feed (all of them, sampled or not).
    const runFeed = new RunFeed()
    const executor = runFeed.observe(new SecretEnv(pool, secrets))

    const changes = new ChangeFeed()
    const auth = new AuthService(db, new ApiKeyRepository())
    const tenants = new TenantService(db, new TenantRepository())
    const scripts = new ScriptService({ db, scripts: new ScriptRepository(), checker: pool, changes, maxSourceBytes: config.sourceBytes, maxBundleBytes: config.bundleBytes, secrets })
    const defaultLimits = { timeoutMs: config.timeoutMs, cpuMs: config.cpuMs, memoryMb: config.memoryMb, apiCalls: config.apiCalls, outputBytes: config.outputBytes }
    const sourceMaps = new SourceMaps({ db, maps: new SourceMapRepository() })
    const executions = new ExecutionService({ db, scripts: new ScriptRepository(), executions: new ExecutionRepository(), executor, defaultLimits, logger, sourceMaps })
    closers.push(() => executions.drain())
    const triggers = await startTriggers({ db, executor, changes, config, defaultLimits, logger, events })
    closers.push(() => triggers.close())
    wakeDispatcher = () => triggers.dispatcher.wake()
    const audit = new AuditService(db, new AuditRepository())
    const retention = new ExecutionRetention({ db, executions: new ExecutionRepository(), logger, retentionDays: config.executionRetentionDays })
    retention.start()
    closers.push(() => retention.stop())

    const { generated } = await auth.bootstrap(config.adminToken)
    const adminTokenFile = generated === null ? null : writeAdminToken(config.dataDir, generated)
    const demoCreated = config.demo ? await ensureDemo(tenants, scripts) : false

    const routes = new RouteTable()
    routes.replaceAll(await scripts.routes(), await tenants.slugs())
    const unsubscribe = changes.subscribe(async (change) => {
      try {
        const served = await scripts.routes(change.tenantId)
        // A tenant with no active route stays known: its requests answer ROUTE_NOT_FOUND.
        const slug = served.length === 0 ? (await db.system((tx) => tenantRepository.findById(tx, change.tenantId)))?.slug : undefined
        routes.replaceTenant(change.tenantId, served, slug)
      } catch (error) {
        logger.error({ err: error, tenantId: change.tenantId }, 'could not refresh routes')
      }
    })
    closers.push(unsubscribe)
    const relay = new ChangeRelay(db, changes, logger)
    await relay.start()
    closers.push(() => relay.stop())

    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    // HTTP runs: tail-sampled records, exact per-minute rollups, a journal for failures (issue 15).
    const rollupRepository = new ExecutionRollupRepository()
    const rollups = new RollupAggregator({ db, rollups: rollupRepository, logger, flushIntervalMs: config.rollupFlushMs })
    const recorder = new ExecutionRecorder({
      db,
      executions: new ExecutionRepository(),
      rollups,
      logger,
      sampleRate: config.httpSampleRate,
      firstRuns: config.recordFirstRuns,
      bufferBytes: config.recordBufferBytes,
      failureBufferBytes: config.recordFailureBufferBytes,
      defaultOutputBytes: config.outputBytes,
      journalDir: path.join(config.dataDir, 'journal'),
      flushIntervalMs: config.recordFlushMs,
    })
    await recorder.start()
    rollups.start()
    // Runs after the data plane drained: what is left is written, then the journal closes.
    closers.push(async () => {
      await rollups.stop().catch((error: unknown) => logger.error({ err: error }, 'run counts not written at stop'))
      await recorder.close()
    })
    recorderMetrics(recorder, registry)
    const rollupRetention = new RollupRetention({ db, rollups: rollupRepository, logger, retentionDays: config.rollupRetentionDays })
    rollupRetention.start()
    closers.push(() => rollupRetention.stop())
    // Collected at scrape time from the runner processes, with a bound on how long a scrape waits.
    new RunnerMetrics({ source: pool, registry })
    new ContainmentMetrics(pool, registry)
    const dataPlane = await startDataPlane({ config, routes, executor, recorder, registry, logger, earlyResponses })
    const dataPort = dataPlane.port

    let draining = false
    const api = createApiServer({
      auth,
      tenants,
      scripts,
      executions,
      audit,
      triggers,
      stats: new ScriptStatsService({ db, rollups: rollupRepository, scripts: new ScriptRepository() }),
      live: {
        db,
        dataPlane: { port: dataPort, baseDomain: config.baseDomain },
        names: new ScriptNameRepository(),
        tail: new LiveTail({ feed: runFeed, db, names: new ScriptNameRepository(), sourceMaps, bufferBytes: config.tailBufferBytes }),
        adHoc: new AdHocExecutionService({ db, executions: new ExecutionRepository(), executor, defaultLimits, maxCodeBytes: config.sourceBytes, logger }),
      },
      logger,
      // The web console at /: the same service instances, so the same checks as the REST API.
      console: {
        auth,
        tenants,
        scripts,
        executions,
        audit,
        db,
        cron: triggers.cron,
        events: triggers.events,
        health: new ExecutionHealthSource(db),
        idleMinutes: config.consoleIdleMinutes,
        publicUrl: config.publicUrl,
        baseDomain: config.baseDomain,
        dataPort,
      },
      metrics: { contentType: registry.contentType, render: () => registry.metrics() },
      readiness: {
        async check() {
          const database = await db.ping()
          return { ready: database && !draining, checks: { database, draining } }
        },
      },
    })
    await api.listen({ host: config.host, port: config.adminPort })
    closers.push(() => api.close())
    // Runs first on close: readyz fails, the data plane stops accepting, runs in flight finish,
    // their records are written; then the API, the runners and the database close.
    closers.push(async () => {
      draining = true
      await dataPlane.drain()
    })
    const address = api.server.address()
    const adminPort = typeof address === 'object' && address !== null ? address.port : config.adminPort

    return { config, dataPort, adminPort, generatedAdminToken: generated, adminTokenFile, demoCreated, db, logger, api, close }
  } catch (error) {
    await close()
    throw error
  }
}

function logRunnerEvent(logger: Logger, event: RunnerEvent): void {
  if (event.type === 'crash') logger.error(event, 'a runner process crashed; its runs in flight that had no effect yet run again, the others answered RUNNER_CRASHED')
  else if (event.type === 'quarantine') logger.warn(event, 'tenant quarantined after crashing runners on its own repeatedly')
  else if (event.type === 'suspects') logger.warn(event, 'tenants in flight at a runner crash are suspects: their next runs go to the probation runner, one tenant at a time')
  else if (event.type === 'convicted') logger.warn(event, 'a tenant crashed a runner on its own: the crashes it was a suspect in are held against it')
  else if (event.type === 'cleared') logger.info(event, 'a suspect of a runner crash is cleared and runs on its own runner again')
  else if (event.type === 'unattributed') logger.info(event, 'a runner crash is held against no tenant')
  else if (event.type === 'ready' && event.restart) logger.info(event, 'runner process serving again')
  else logger.debug(event, `runner ${event.type}`)
}

/**
 * The key that seals script secrets: ISOGATE_SECRETS_KEY, else the one generated in the data folder
 * on first start (readable only by this user). Gateways sharing a database must share the key.
 */
function secretsKey(config: Config, logger: Logger): Buffer {
  if (config.secretsKey !== undefined) return Buffer.from(config.secretsKey, 'base64')
  const file = path.resolve(config.dataDir, 'secrets-key')
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
  mkdirSync(config.dataDir, { recursive: true })
  const key = randomBytes(32)
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
  if (config.databaseUrl !== undefined) logger.warn({ file }, 'generated a secrets key: every gateway on this database needs the same ISOGATE_SECRETS_KEY')
  return key
}

/** The generated token is shown once; a copy readable only by this user stays in the data folder. */
function writeAdminToken(dataDir: string, token: string): string {
  mkdirSync(dataDir, { recursive: true })
  const file = path.resolve(dataDir, 'admin-token')
  writeFileSync(file, `${token}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return file
}
