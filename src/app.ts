import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { Config } from '../config/index.js'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { ContainmentMetrics, EarlyResponses, RouteTable, RunnerMetrics, TenantGate, TenantLabels, type TenantPolicy } from '../gateway/index.js'
import { RunnerSupervisor, type RunnerEvent } from '../runner/index.js'
import { createApiServer } from './api/index.js'
import { RollupHealthSource } from './console/index.js'
import { ExecutionMinuteRepository } from './db/execution-minute.repository.js'
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
import { TenantRelay } from './db/tenant-relay.js'
import type { TenantQuota } from './domain/tenant-quota.js'
import { QuotaRunner } from './services/quota-runner.js'
import { QuotaService } from './services/quota.service.js'
import { ScriptFailureMetrics } from './services/script-failure-metrics.js'
import { TenantDirectory, type TenantState } from './services/tenant-directory.js'
import { RouteFeed } from './route-feed.js'
import { TriggerRetention } from './services/trigger-retention.js'
import { PrometheusTriggerMetrics } from './triggers/trigger-metrics.js'
import { existsSync, readFileSync } from 'node:fs'

export interface Isogate {
  readonly config: Config
  readonly dataPort: number
  readonly adminPort: number
  /** A superadmin token generated at this start (first start, none configured), else null. */
  readonly generatedAdminToken: string | null
  readonly adminTokenFile: string | null
  readonly demoCreated: boolean
  /** The demo tenant exists (made at this start or an earlier one, not deleted since). */
  readonly demoAvailable: boolean
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
    const db = await Database.open({ url: config.databaseUrl, dataDir: path.join(config.dataDir), embeddedTemplate: config.embeddedTemplate })
    closers.push(() => db.close())
    const tenantRepository = new TenantRepository()
    // Every tenant's status and quota, in memory: the data plane, ctx.cache, ctx.db and run limits read it.
    const directory = new TenantDirectory({ db, tenants: tenantRepository, defaults: defaultQuota(config) })
    await directory.load()
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    const tenantLabels = new TenantLabels({ exists: (slug) => directory.hasSlug(slug), maxTenants: config.metricsMaxTenants })
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
      maxTenantBytes: (tenantId) => directory.quotaOf(tenantId).dbBytes,
    })
    const cache = new TenantCache({ maxBytesPerTenant: config.cacheBytesPerTenant, maxValueBytes: config.cacheValueBytes, maxBytesOf: (tenantId) => directory.get(tenantId)?.quota.cacheBytes })
    const hostApis = new HostApis({
      cache,
      events,
      documents,
      onFault: (error, call) => logger.error({ err: error, tenantId: call.tenantId, api: call.name, executionId: call.executionId }, 'a host API failed'),
    })
    hostApis.add('http.fetch', outboundFetchApi({
      allowPrivateRanges: config.egressAllowPrivate,
      allowedHosts: config.egressAllowedHosts,
      resolve: config.egressResolve,
      extraCa: config.egressCaFile === undefined ? undefined : readFileSync(config.egressCaFile, 'utf8'),
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
      pool: { threads: config.workers, maxIsolatesPerThread: config.isolatesPerWorker, isolateIdleMs: config.isolateIdleMs, blankMemoryMb: config.quotaMemoryMb, tenantCpuShare: config.tenantCpuShare, timerSlackUs: config.runnerTimerSlackUs, remoteHostApis: hostApis.remote },
      hostCalls: hostApis.handler,
      near: hostApis.near,
      quarantine: { crashes: config.quarantineCrashes, windowMs: config.quarantineWindowMs, coolDownMs: config.quarantineMs },
      probation: config.runnerProbation,
      probationThreads: config.runnerProbationThreads,
      onEvent: (event) => logRunnerEvent(logger, event),
    })
    closers.push(() => pool.close())
    await pool.ready()
    const secrets = new SecretBox(secretsKey(config, logger))
    // Every run goes through here: the script's secrets are opened on the way in, redacted from its logs on the way out.
    // ... its limits clamped to its tenant's quota, its failures counted per script, and every
    // finished run published to the live tail's feed (all of them, sampled or not).
    const failures = new ScriptFailureMetrics({ registry, tenants: tenantLabels, slugOf: (tenantId) => directory.get(tenantId)?.slug ?? null })
    const runFeed = new RunFeed()
    const executor = runFeed.observe(new QuotaRunner(new SecretEnv(pool, secrets), { quotaOf: (tenantId) => directory.quotaOf(tenantId), onResult: (task, result) => failures.observe(task, result) }))

    const changes = new ChangeFeed()
    const auth = new AuthService(db, new ApiKeyRepository())
    // A tenant's buffered execution records are written before its rows go (the recorder starts below).
    let flushRecords = async (): Promise<void> => {}
    const tenants = new TenantService(db, tenantRepository, undefined, { directory, beforeDelete: () => flushRecords() })
    const quotas = new QuotaService({ db, tenants: tenantRepository, directory })
    const scripts = new ScriptService({ db, scripts: new ScriptRepository(), checker: pool, changes, maxSourceBytes: config.sourceBytes, maxBundleBytes: config.bundleBytes, secrets, quotas })
    const defaultLimits = { timeoutMs: config.timeoutMs, cpuMs: config.cpuMs, memoryMb: config.memoryMb, apiCalls: config.apiCalls, outputBytes: config.outputBytes }
    const sourceMaps = new SourceMaps({ db, maps: new SourceMapRepository() })
    const executions = new ExecutionService({ db, scripts: new ScriptRepository(), executions: new ExecutionRepository(), executor, defaultLimits, logger, sourceMaps })
    closers.push(() => executions.drain())
    const triggers = await startTriggers({ db, executor, changes, config, defaultLimits, logger, events, metrics: new PrometheusTriggerMetrics(registry) })
    closers.push(() => triggers.close())
    wakeDispatcher = () => triggers.dispatcher.wake()
    const audit = new AuditService(db, new AuditRepository())
    const retention = new ExecutionRetention({ db, executions: new ExecutionRepository(), logger, retentionDays: config.executionRetentionDays })
    retention.start()
    closers.push(() => retention.stop())
    const triggerRetention = new TriggerRetention({ db, logger, eventDays: config.eventRetentionDays, cronFireDays: config.cronFireRetentionDays, deadLetterDays: config.deadLetterRetentionDays })
    triggerRetention.start()
    closers.push(() => triggerRetention.stop())

    const { generated, envKey } = await auth.bootstrap(config.adminToken)
    if (envKey === 'revoked') logger.warn('ISOGATE_ADMIN_TOKEN holds a key that was revoked through the API; it does not work: set a new value')
    const adminTokenFile = generated === null ? null : writeAdminToken(config.dataDir, generated)
    const demoCreated = await ensureDemo(db, tenantRepository, tenants, scripts, config.demo)

    const routes = new RouteTable()
    // The route table follows the scripts and the tenant directory (route-feed.ts): every tenant is
    // known (404 ROUTE_NOT_FOUND without a matching route), a deleted one is not (TENANT_NOT_FOUND).
    const routeFeed = new RouteFeed({ routes, directory, read: (tenantId) => scripts.routes(tenantId), logger })
    await routeFeed.reloadAll()
    closers.push(changes.subscribe((change) => routeFeed.refresh(change.tenantId)))
    closers.push(directory.subscribe((change) => routeFeed.tenantChanged(change)))
    const relay = new ChangeRelay(db, changes, logger)
    await relay.start(() => routeFeed.reloadAll())
    closers.push(() => relay.stop())

    // HTTP runs: tail-sampled records, exact per-minute rollups, a journal for failures (issue 15).
    const rollupRepository = new ExecutionRollupRepository()
    const rollups = new RollupAggregator({ db, rollups: rollupRepository, logger, flushIntervalMs: config.rollupFlushMs })
    const recorder = new ExecutionRecorder({
      db,
      executions: new ExecutionRepository(),
      rollups,
      logger,
      sampleRate: config.httpSampleRate,
      sampleMaxPerSecond: config.httpSampleMaxPerSecond,
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
    flushRecords = () => recorder.flush()
    const rollupRetention = new RollupRetention({ db, rollups: rollupRepository, logger, retentionDays: config.rollupRetentionDays })
    rollupRetention.start()
    closers.push(() => rollupRetention.stop())
    // Collected at scrape time from the runner processes, with a bound on how long a scrape waits.
    new RunnerMetrics({ source: pool, registry })
    new ContainmentMetrics(pool, registry)
    const gate = new TenantGate()
    for (const state of directory.all()) gate.set(state.id, policyOf(state))
    const dataPlane = await startDataPlane({ config, routes, executor, recorder, registry, logger, earlyResponses, gate, tenantLabels })
    const dataPort = dataPlane.port
    // A tenant changed here or on another node: its gate, its cache budget, its routes, its triggers.
    closers.push(directory.subscribe(async ({ tenantId, state, previous }) => {
      if (state === null) {
        gate.remove(tenantId)
        cache.forget(tenantId)
        if (previous !== null) {
          dataPlane.metrics.forgetTenant(previous.slug)
          failures.forgetTenant(tenantId, previous.slug)
        }
        // Its isolates and programs go now, not at the runners' idle timeout.
        await evictFromRunners(pool, tenantId, logger)
        return
      }
      gate.set(tenantId, policyOf(state))
      if (previous !== null && previous.quota.cacheBytes !== state.quota.cacheBytes) cache.forget(tenantId)
      if (previous?.status !== state.status) {
        triggers.scheduler.wake()
        triggers.dispatcher.wake()
      }
      // Refused at the gate from now on: what the runners hold for it goes too.
      if (state.status === 'suspended' && previous?.status !== 'suspended') await evictFromRunners(pool, tenantId, logger)
    }))
    const tenantRelay = new TenantRelay(db, directory, logger)
    await tenantRelay.start()
    closers.push(() => tenantRelay.stop())

    let draining = false
    const api = createApiServer({
      auth,
      tenants,
      scripts,
      executions,
      audit,
      quotas,
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
        // Exact per-minute counts from the rollups; the records for what they do not count.
        health: new RollupHealthSource({ db, rollups: rollupRepository, records: new ExecutionMinuteRepository() }),
        idleMinutes: config.consoleIdleMinutes,
        publicUrl: config.publicUrl,
        baseDomain: config.baseDomain,
        dataPort,
      },
      metricsToken: config.metricsToken,
      metrics: { contentType: registry.contentType, render: () => registry.metrics() },
      readiness: {
        async check() {
          const database = await db.ping()
          // False while a runner has been down so long that its tenants are answered RUNNER_UNAVAILABLE.
          const runners = pool.unavailableRunners.length === 0
          return { ready: database && runners && !draining, checks: { database, runners, draining } }
        },
      },
    })
    await api.listen({ host: config.adminHost, port: config.adminPort })
    closers.push(() => api.close())
    // Runs first on close: readyz fails, the data plane stops accepting, runs in flight finish,
    // their records are written; then the API, the runners and the database close.
    closers.push(async () => {
      draining = true
      await dataPlane.drain()
    })
    const address = api.server.address()
    const adminPort = typeof address === 'object' && address !== null ? address.port : config.adminPort

    return { config, dataPort, adminPort, generatedAdminToken: generated, adminTokenFile, demoCreated, demoAvailable: directory.hasSlug('demo'), db, logger, api, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** The quota of a tenant whose operator set nothing: the settings. */
function defaultQuota(config: Config): TenantQuota {
  return {
    timeoutMs: config.quotaTimeoutMs,
    cpuMs: config.quotaCpuMs,
    memoryMb: config.quotaMemoryMb,
    apiCalls: config.quotaApiCalls,
    outputBytes: config.quotaOutputBytes,
    sourceBytes: config.sourceBytes,
    scripts: config.quotaScripts,
    requestsPerSecond: config.quotaRequestsPerSecond,
    dbBytes: config.quotaDbBytes,
    cacheBytes: config.cacheBytesPerTenant,
    concurrency: config.tenantConcurrency,
  }
}

function policyOf(state: TenantState): TenantPolicy {
  return { suspended: state.status === 'suspended', requestsPerSecond: state.quota.requestsPerSecond, concurrency: state.quota.concurrency }
}

function logRunnerEvent(logger: Logger, event: RunnerEvent): void {
  if (event.type === 'crash') logger.error(event, 'a runner process crashed; its runs in flight that had no effect yet run again, the others answered RUNNER_CRASHED')
  else if (event.type === 'quarantine') logger.warn(event, 'tenant quarantined after crashing runners on its own repeatedly')
  else if (event.type === 'suspects') logger.warn(event, 'tenants in flight at a runner crash are suspects: their next runs go to the probation runner, the prime suspect alone, the others together')
  else if (event.type === 'convicted') logger.warn(event, 'a tenant crashed a runner on its own: the crashes it was a suspect in are held against it')
  else if (event.type === 'cleared') logger.info(event, 'a suspect of a runner crash is cleared and runs on its own runner again')
  else if (event.type === 'unattributed') logger.info(event, 'a runner crash is held against no tenant')
  else if (event.type === 'unusable') logger.error(event, 'a runner process cannot serve all its tenants (a worker thread could not be replaced): another takes its place, and it stops once its runs in flight are answered')
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

/** Lets go of a deleted or suspended tenant on every runner; a runner that did not answer keeps it until its idle timeout. */
async function evictFromRunners(pool: RunnerSupervisor, tenantId: string, logger: Logger): Promise<void> {
  try {
    const evicted = await pool.evict(tenantId)
    logger.debug({ tenantId, ...evicted }, 'evicted a tenant from the runners')
    if (evicted.unanswered > 0) logger.warn({ tenantId, unanswered: evicted.unanswered }, 'a runner did not evict a tenant in time; its isolates go at the idle timeout')
  } catch (error) {
    logger.error({ err: error, tenantId }, 'could not evict a tenant from the runners')
  }
}
