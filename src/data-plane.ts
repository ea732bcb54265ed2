import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import type { Config } from '../config/index.js'
import type { Executor } from '../runner/index.js'
import { AccessLog, AdmissionController, CircuitBreaker, DataPlane, GatewayMetrics, runStatus, type EarlyResponses, type HttpRun, type RouteTable, type TenantGate, type TenantLabels } from '../gateway/index.js'
import type { ExecutionRecorder } from './services/execution-recorder.js'

export interface DataPlaneServiceOptions {
  config: Config
  routes: RouteTable
  executor: Executor
  recorder: ExecutionRecorder
  registry: Registry
  logger: Logger
  /** Responses runs hand over before they end (ctx.waitUntil). */
  earlyResponses?: EarlyResponses | undefined
  /** Suspension, request rate and concurrency per tenant (the operator's quotas). */
  gate?: TenantGate
  /** Bounds the tenant label of the data plane's metrics. */
  tenantLabels?: TenantLabels
}

export interface RunningDataPlane {
  port: number
  metrics: GatewayMetrics
  /** Stops accepting, waits for runs in flight (up to the shutdown timeout), flushes records. */
  drain(): Promise<void>
}

/** Starts the uWS data plane with admission control, circuit breakers, metrics and execution records. */
export async function startDataPlane(options: DataPlaneServiceOptions): Promise<RunningDataPlane> {
  const { config, recorder, registry, logger } = options
  const admission = new AdmissionController({
    perTenantConcurrency: config.tenantConcurrency,
    contendedConcurrency: config.tenantContendedConcurrency,
    perTenantQueue: config.tenantQueue,
    queueTargetMs: config.queueTargetMs,
    globalConcurrency: config.globalConcurrency,
    globalQueue: config.globalQueue,
    ...(options.gate === undefined ? {} : { tenantConcurrency: options.gate.concurrencyOf.bind(options.gate) }),
  })
  const breaker = new CircuitBreaker({
    failureThreshold: config.breakerFailures,
    coolDownMs: config.breakerCoolDownMs,
    onChange: (change) => {
      if (change.state === 'open') logger.warn({ scriptId: change.key, ...change }, 'circuit open: the script failed repeatedly and answers 503 SCRIPT_UNAVAILABLE for a cool-down')
      else logger.info({ scriptId: change.key, ...change }, 'circuit closed: the script runs again')
    },
  })
  const metrics = new GatewayMetrics(registry, options.tenantLabels === undefined ? {} : { tenants: options.tenantLabels })
  new Gauge({ name: 'isogate_admission_running', help: 'Runs in flight', registers: [registry], collect() { this.set(admission.stats.running) } })
  new Gauge({ name: 'isogate_admission_queued', help: 'Runs waiting for a slot (runner queue depth)', registers: [registry], collect() { this.set(admission.stats.queued) } })

  const accessLog = new AccessLog({ logger, level: config.accessLogLevel, sampleRate: config.accessLogSample })
  const plane = new DataPlane({
    host: config.host,
    port: config.port,
    routes: options.routes,
    executor: options.executor,
    admission,
    breaker,
    metrics,
    onRun: (run: HttpRun) => {
      // ISOGATE_RECORD_HTTP=false (benchmarks only) records nothing, not even the rollups.
      if (config.recordHttp) recorder.recordHttp(run)
      accessLog.write(accessLine(run))
    },
    defaultLimits: { timeoutMs: config.timeoutMs, cpuMs: config.cpuMs, memoryMb: config.memoryMb, apiCalls: config.apiCalls, outputBytes: config.outputBytes },
    maxBodyBytes: config.maxBodyBytes,
    baseDomain: config.baseDomain,
    earlyResponses: options.earlyResponses,
    gate: options.gate,
    logger,
  })
  const port = await plane.listen()
  return {
    port,
    metrics,
    async drain() {
      plane.drain()
      const deadline = Date.now() + config.shutdownTimeoutMs
      while (!admission.idle && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      if (!admission.idle) logger.warn({ ...admission.stats }, 'shutdown timeout: runs still in flight are abandoned')
      await recorder.flush()
    },
  }
}

function accessLine(run: HttpRun) {
  const { route, request, result } = run
  return { executionId: run.executionId, tenant: route.tenantSlug, scriptId: route.scriptId, version: route.version, method: request.method, url: request.url, result, status: run.clientAborted ? 499 : runStatus(result) }
}
