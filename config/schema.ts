import { readFileSync } from 'node:fs'
import ipaddr from 'ipaddr.js'
import { z } from 'zod'
import { parseResolveEntry } from '../src/host/resolve-overrides.js'

/**
 * Every isogate setting: its environment variable, its default and how it is checked.
 * This table is the single source for `loadConfig`, the README's configuration table and
 * the test that keeps the two in step.
 */
export interface SettingSpec<T, D extends T | undefined = T | undefined> {
  /** Environment variable that overrides the default. */
  readonly env: string
  readonly description: string
  readonly schema: z.ZodType<T>
  /** The default, or undefined for an optional setting that has none. */
  readonly default: D
}

const port = z.coerce.number().int().min(0).max(65535)
const positiveInt = z.coerce.number().int().min(1)
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform(
  (value) => value === true || value === 'true' || value === '1' || value === 'yes',
)

/** Comma-separated CIDRs (or single addresses); explicit overrides may pass the list itself. */
const cidrList = z
  .union([z.string().transform((text) => text.split(',').map((part) => part.trim()).filter((part) => part !== '')), z.array(z.string())])
  .pipe(
    z.array(
      z.string().refine((range) => ipaddr.isValidCIDR(range) || ipaddr.isValid(range), {
        error: (issue) => `${JSON.stringify(issue.input)} is not a CIDR like 127.0.0.2/32`,
      }),
    ),
  )

/** Comma-separated `host:port:address[:port]` entries (src/host/resolve-overrides.ts); explicit overrides may pass the list. */
const resolveList = z
  .union([z.string().transform((text) => text.split(',').map((part) => part.trim()).filter((part) => part !== '')), z.array(z.string())])
  .pipe(
    z.array(z.string()).superRefine((entries, ctx) => {
      const seen = new Set<string>()
      for (const entry of entries) {
        try {
          const { hostname, port } = parseResolveEntry(entry, 'entry')
          if (seen.has(`${hostname}:${port}`)) ctx.addIssue({ code: 'custom', message: `${hostname}:${port} is mapped twice` })
          seen.add(`${hostname}:${port}`)
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^entry: /, '') })
        }
      }
    }),
  )

/** A readable PEM file with at least one certificate. */
const pemFile = z.string().min(1).superRefine((file, ctx) => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` })
    return
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) ctx.addIssue({ code: 'custom', message: `${file} holds no PEM certificate` })
})

/** `api.example.com`, `*.example.com`, `127.0.0.2` or `[::1]`; see src/host/host-pattern.ts. */
const hostPattern = z
  .string()
  .regex(/^(?:(?:\*\.)?[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*|\[[0-9a-f:.]+\])$/i, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a host pattern (api.example.com, *.example.com, 127.0.0.2, [::1])`,
  })

/** A JSON object of tenant slug -> host patterns; explicit overrides may pass the object itself. */
const hostAllowlist = z
  .unknown()
  .transform((value, ctx) => {
    if (typeof value !== 'string') return value
    try {
      return JSON.parse(value) as unknown
    } catch {
      // The parser's own message (a position) says no more than this to an operator.
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object like {"acme": ["api.example.com"]}' })
      return z.NEVER
    }
  })
  .pipe(z.record(z.string().min(1), z.array(hostPattern)))

function setting<T, D extends T | undefined>(
  env: string,
  description: string,
  schema: z.ZodType<T>,
  fallback: D,
): SettingSpec<T, D> {
  return { env, description, schema, default: fallback }
}

export const settings = {
  host: setting('HOST', 'Address the data plane listens on (0.0.0.0 to serve other machines)', z.string().min(1), '127.0.0.1'),
  adminHost: setting('ADMIN_HOST', 'Address the control plane (REST API, health, metrics) listens on; keep it private', z.string().min(1), '127.0.0.1'),
  port: setting('PORT', 'Data-plane (uWebSockets.js) port; 0 picks a free one', port, 8080),
  adminPort: setting('ADMIN_PORT', 'Control-plane (REST API, health, metrics) port; 0 picks a free one', port, 8081),
  databaseUrl: setting(
    'DATABASE_URL',
    'PostgreSQL server URL; unset starts the embedded PGlite database under ISOGATE_DATA_DIR',
    z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL'),
    undefined,
  ),
  dataDir: setting('ISOGATE_DATA_DIR', 'Folder for the embedded database and the generated admin token', z.string().min(1), './.isogate'),
  embeddedTemplate: setting(
    'ISOGATE_EMBEDDED_TEMPLATE',
    'A PGlite data folder of a cleanly stopped embedded database, copied into a new ISOGATE_DATA_DIR instead of creating a database there (faster first start; the test suite uses one)',
    z.string().min(1),
    undefined,
  ),
  adminToken: setting(
    'ISOGATE_ADMIN_TOKEN',
    'Bootstrap superadmin API token; unset: one is generated at first start, printed once, stored hashed',
    z.string().min(8, 'must be at least 8 characters'),
    undefined,
  ),
  workers: setting(
    'ISOGATE_WORKERS',
    "Worker threads per runner process; 0 (the default) runs tenant code on the runner process's own thread, about a fifth less CPU a request than a hop to a worker thread. Either way, the runs a tenant's long synchronous step holds up move after ~20 ms: to another runner without worker threads, to another thread with them. Worker threads add per-thread fair slots and CPU shares (ISOGATE_TENANT_CPU_SHARE)",
    z.coerce.number().int().min(0).max(256),
    0,
  ),
  isolatesPerWorker: setting(
    'ISOGATE_ISOLATES_PER_WORKER',
    'Tenant isolates a runner process (or each of its worker threads) keeps warm (about 1.5 MiB each); past it the least recently used is disposed',
    positiveInt.max(5000),
    500,
  ),
  isolateIdleMs: setting('ISOGATE_ISOLATE_IDLE_MS', 'A tenant isolate that ran nothing for this long is disposed', positiveInt, 300_000),
  tenantCpuShare: setting(
    'ISOGATE_TENANT_CPU_SHARE',
    'With worker threads (ISOGATE_WORKERS): share of one core (above 0, at most 1) a tenant\'s runs may use on a worker thread while other tenants use it too (over the last ~200 ms); past it its next runs wait until it is under. Alone on its thread a tenant is not held back',
    z.coerce.number().gt(0).max(1),
    0.5,
  ),
  runners: setting('ISOGATE_RUNNERS', 'Runner processes; tenants are sharded across them, so a crash takes down one runner', positiveInt.max(64), 2),
  runnerTimerSlackUs: setting(
    'ISOGATE_RUNNER_TIMER_SLACK_US',
    'Timer slack (microseconds, Linux) of runner processes and their threads: their timed wake-ups may be coalesced within it, and a synchronous step that spins past its CPU or wall limit is stopped at most this much later; 0 leaves the slack the runner inherits (the kernel\'s 50 by default)',
    z.coerce.number().int().min(0).max(20_000),
    1000,
  ),
  runnerStandby: setting(
    'ISOGATE_RUNNER_STANDBY',
    'Idle runner processes kept started, which take a crashed runner\'s place at once; 0 restarts it cold',
    z.coerce.number().int().min(0).max(8),
    1,
  ),
  runnerProbation: setting(
    'ISOGATE_RUNNER_PROBATION',
    'The probation runner, where the tenants in flight at a crash run (the prime suspect alone, the others together) until the culprit crashes it alone: ready (kept started) or on-demand (started at the first crash)',
    z.enum(['ready', 'on-demand']),
    'ready',
  ),
  runnerProbationThreads: setting(
    'ISOGATE_RUNNER_PROBATION_THREADS',
    'Worker threads of the probation runner: it serves only the suspects of a crash (and a convicted tenant while its crashes count), and is the runner that starts again most after crashes, so its start is kept small',
    positiveInt.max(256),
    1,
  ),
  quarantineCrashes: setting('ISOGATE_QUARANTINE_CRASHES', 'Runner crashes held against a tenant (it crashed a runner alone), within the window, that quarantine it', positiveInt, 3),
  quarantineWindowMs: setting('ISOGATE_QUARANTINE_WINDOW_MS', 'Window in which those crashes count', positiveInt, 60_000),
  quarantineMs: setting('ISOGATE_QUARANTINE_MS', 'How long a quarantined tenant\'s runs answer 503 TENANT_QUARANTINED', positiveInt, 300_000),
  baseDomain: setting(
    'ISOGATE_BASE_DOMAIN',
    'When set, `Host: {tenant}.{baseDomain}` selects the tenant; otherwise the first path segment does',
    z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'must be a host name'),
    undefined,
  ),
  demo: setting('ISOGATE_DEMO', 'Create the demo tenant and its /hello script at first start', bool, true),
  logLevel: setting(
    'ISOGATE_LOG_LEVEL',
    'pino log level',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
  ),
  maxBodyBytes: setting('ISOGATE_MAX_BODY_BYTES', 'Largest request body the data plane accepts', positiveInt, 1024 * 1024),
  tenantConcurrency: setting('ISOGATE_TENANT_CONCURRENCY', 'Runs of one tenant in flight at once on this gateway', positiveInt, 64),
  tenantContendedConcurrency: setting('ISOGATE_TENANT_CONTENDED_CONCURRENCY', 'Runs of one tenant in flight at once while other tenants are active too (fairness; at most ISOGATE_TENANT_CONCURRENCY)', positiveInt, 16),
  tenantQueue: setting('ISOGATE_TENANT_QUEUE', 'Runs of one tenant waiting for a slot, at most (a memory bound; past it 429 TENANT_BUSY). What sheds a tenant is its runs\' wait: ISOGATE_QUEUE_TARGET_MS', z.coerce.number().int().min(0), 4096),
  queueTargetMs: setting('ISOGATE_QUEUE_TARGET_MS', 'Target queueing delay of a tenant\'s runs (CoDel): a tenant whose runs waited longer, interval after interval, while its queue kept growing gets 429 TENANT_BUSY with Retry-After, until a run waits less again', positiveInt, 100),
  globalConcurrency: setting('ISOGATE_GLOBAL_CONCURRENCY', 'Runs in flight across all tenants', positiveInt, 512),
  globalQueue: setting('ISOGATE_GLOBAL_QUEUE', 'Runs waiting across all tenants; past it 503 OVERLOADED', z.coerce.number().int().min(0), 4096),
  breakerFailures: setting('ISOGATE_BREAKER_FAILURES', 'Consecutive failed runs that open a script\'s circuit (503 SCRIPT_UNAVAILABLE)', positiveInt, 10),
  breakerCoolDownMs: setting('ISOGATE_BREAKER_COOLDOWN_MS', 'How long an open circuit refuses runs before one trial', z.coerce.number().int().min(0), 10_000),
  shutdownTimeoutMs: setting('ISOGATE_SHUTDOWN_TIMEOUT_MS', 'How long SIGTERM waits for in-flight runs', z.coerce.number().int().min(0), 30_000),
  timeoutMs: setting('ISOGATE_LIMIT_TIMEOUT_MS', 'Default wall-clock limit of one run', positiveInt, 30_000),
  cpuMs: setting('ISOGATE_LIMIT_CPU_MS', 'Default CPU-time limit of one run', positiveInt, 10_000),
  memoryMb: setting('ISOGATE_LIMIT_MEMORY_MB', "A script's default `memoryMb` (MB): the heap it needs at least; the tenant isolate's limit is the tenant's memory quota", positiveInt.min(8).max(4096), 64),
  apiCalls: setting('ISOGATE_LIMIT_API_CALLS', 'Default host-API calls allowed per run', positiveInt, 100),
  outputBytes: setting('ISOGATE_LIMIT_OUTPUT_BYTES', 'Default response body plus logs allowed per run', positiveInt, 1024 * 1024),
  sourceBytes: setting('ISOGATE_LIMIT_SOURCE_BYTES', 'Largest script source accepted', positiveInt, 100 * 1024),
  bundleBytes: setting(
    'ISOGATE_LIMIT_BUNDLE_BYTES',
    'Largest module uploaded as application/javascript (a bundle, e.g. from `isogate deploy`); its source map is not counted',
    positiveInt,
    1024 * 1024,
  ),
  accessLogLevel: setting(
    'ISOGATE_ACCESS_LOG_LEVEL',
    'Level of the data plane\'s line per run (execution id, tenant, script, status, duration, code); `silent` for none. Limit kills and crashes are warn lines whatever it is',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
  ),
  accessLogSample: setting(
    'ISOGATE_ACCESS_LOG_SAMPLE',
    'Fraction (0 to 1) of successful runs that write an access-log line; failed runs always do',
    z.coerce.number().min(0).max(1),
    1,
  ),
  tailBufferBytes: setting(
    'ISOGATE_TAIL_BUFFER_BYTES',
    'Bytes a live-tail client may have waiting unsent; past it its events are dropped (and it is told how many), runs never wait for it',
    positiveInt,
    1024 * 1024,
  ),
  dbMaxDocumentBytes: setting('ISOGATE_DB_MAX_DOCUMENT_BYTES', 'Largest ctx.db document (JSON bytes); larger writes fail with DB_DOCUMENT_TOO_LARGE', positiveInt, 256 * 1024),
  dbMaxResultBytes: setting(
    'ISOGATE_DB_MAX_RESULT_BYTES',
    'Largest page of ctx.db query results (JSON bytes); a page stops before it and its cursor continues; at least ISOGATE_DB_MAX_DOCUMENT_BYTES',
    positiveInt,
    4 * 1024 * 1024,
  ),
  cronMissedPolicy: setting(
    'ISOGATE_CRON_MISSED',
    'Cron slots missed while no process ran: `skip` them, or `run-once` for the latest (either way recorded)',
    z.enum(['skip', 'run-once']),
    'skip',
  ),
  cronMissedToleranceMs: setting('ISOGATE_CRON_MISSED_TOLERANCE_MS', 'How late a cron slot may start and still run as usual; later is missed', positiveInt, 10_000),
  triggerPollMs: setting('ISOGATE_TRIGGER_POLL_MS', 'Fallback poll of the cron scheduler and event dispatcher when no notification wakes them', positiveInt, 5_000),
  triggerLeaseMarginMs: setting(
    'ISOGATE_TRIGGER_LEASE_MARGIN_MS',
    'A claimed cron fire or event delivery is taken over this long after its run\'s wall-clock limit when its process has stopped',
    positiveInt,
    10_000,
  ),
  eventRetries: setting('ISOGATE_EVENT_RETRIES', 'Retries of a failed event delivery before it becomes a dead letter', z.coerce.number().int().min(0).max(20), 3),
  eventRetryBaseMs: setting('ISOGATE_EVENT_RETRY_BASE_MS', 'First retry delay; each next retry waits twice as long (2 s, 4 s, 8 s)', positiveInt, 2_000),
  eventIdempotencySeconds: setting('ISOGATE_EVENT_IDEMPOTENCY_SECONDS', 'How long an event idempotency key is remembered', positiveInt, 86_400),
  egressAllowPrivate: setting(
    'ISOGATE_EGRESS_ALLOW_PRIVATE',
    'Comma-separated CIDRs that scripts\' fetch may reach although they are private, loopback or otherwise non-public (e.g. `10.1.0.0/16`); trusted operators only',
    cidrList,
    [] as string[],
  ),
  egressAllowedHosts: setting(
    'ISOGATE_EGRESS_ALLOWED_HOSTS',
    'JSON object of tenant slug -> hosts its scripts may fetch (`{"acme": ["api.example.com", "*.example.net"]}`); a tenant not listed may fetch any public host',
    hostAllowlist,
    undefined,
  ),
  egressResolve: setting(
    'ISOGATE_EGRESS_RESOLVE',
    'Comma-separated `host:port:address[:port]` entries, as curl\'s `--resolve`/`--connect-to`: scripts\' fetch of exactly that host and port connects to that address (and port) without DNS, and the address is allowed for it even if private or loopback (e.g. `api.internal:443:10.0.0.7`); TLS still checks the certificate for the host name; trusted operators only',
    resolveList,
    [] as string[],
  ),
  egressCaFile: setting(
    'ISOGATE_EGRESS_CA_FILE',
    'PEM file of certificate authorities scripts\' fetch trusts besides Node\'s bundled ones (e.g. an internal CA); read at boot',
    pemFile,
    undefined,
  ),
  egressConnectTimeoutMs: setting('ISOGATE_EGRESS_CONNECT_TIMEOUT_MS', 'Longest a script\'s fetch waits to connect (TCP and TLS)', positiveInt, 5_000),
  egressTimeoutMs: setting(
    'ISOGATE_EGRESS_TIMEOUT_MS',
    'Longest one fetch may take, redirects and the whole body included (the run\'s own limit still applies)',
    positiveInt,
    30_000,
  ),
  egressMaxResponseBytes: setting('ISOGATE_EGRESS_MAX_RESPONSE_BYTES', 'Largest response body a script\'s fetch accepts', positiveInt, 5 * 1024 * 1024),
  executionRetentionDays: setting(
    'ISOGATE_EXECUTION_RETENTION_DAYS',
    'Days execution records are kept; older ones are purged in batches',
    positiveInt.max(36_500),
    90,
  ),
  httpSampleRate: setting(
    'ISOGATE_HTTP_SAMPLE_RATE',
    'Share of successful HTTP runs recorded in full (0..1) when the script sets no `observability.sampleRate`; failures, 5xx answers and the first runs of a version always are',
    z.coerce.number().min(0).max(1),
    0.01,
  ),
  httpSampleMaxPerSecond: setting(
    'ISOGATE_HTTP_SAMPLE_MAX_PER_SECOND',
    'Most successful HTTP runs of one script each gateway process records in full per second at ISOGATE_HTTP_SAMPLE_RATE (a script\'s own `observability.sampleRate` and the first runs of a version are not capped); past it they are counted only',
    positiveInt.max(1_000_000),
    10,
  ),
  recordFirstRuns: setting(
    'ISOGATE_RECORD_FIRST_RUNS',
    'Runs of each new script version that each gateway process records in full whatever the sample rate, so a fresh deploy shows its runs',
    z.coerce.number().int().min(0).max(1_000_000),
    100,
  ),
  recordBufferBytes: setting(
    'ISOGATE_RECORD_BUFFER_BYTES',
    'Memory for sampled successful runs waiting to be written; a tenant over its fair share cannot push out another\'s; past it they are dropped (counted, and still in the rollups)',
    positiveInt.min(64 * 1024),
    32 * 1024 * 1024,
  ),
  recordFailureBufferBytes: setting(
    'ISOGATE_RECORD_FAILURE_BUFFER_BYTES',
    'Memory for failed runs\' records waiting to be written (shared fairly between tenants); past it a failure\'s record is dropped and the drop logged',
    positiveInt.min(64 * 1024),
    32 * 1024 * 1024,
  ),
  recordFlushMs: setting('ISOGATE_RECORD_FLUSH_MS', 'How long a kept execution record may wait for its batch (a crash can lose the sampled successes of this window; failures are journaled)', positiveInt.max(600_000), 50),
  rollupFlushMs: setting('ISOGATE_ROLLUP_FLUSH_MS', 'How often a gateway writes its per-minute run counts (the stats endpoint lags by at most this)', positiveInt.max(60_000), 2_000),
  rollupRetentionDays: setting('ISOGATE_ROLLUP_RETENTION_DAYS', 'Days per-minute run counts (script stats) are kept', positiveInt.max(36_500), 400),
  recordHttp: setting(
    'ISOGATE_RECORD_HTTP',
    'Record HTTP runs at all (records and rollups); `false` is for benchmarks that measure what recording costs',
    bool,
    true,
  ),
  secretsKey: setting(
    'ISOGATE_SECRETS_KEY',
    'Key that seals script secrets at rest (AES-256-GCM): 32 bytes in base64. Unset: one is generated in ISOGATE_DATA_DIR/secrets-key; gateways sharing a database must share the key',
    z.string().refine((value) => Buffer.from(value, 'base64').length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(value), 'must be 32 bytes in base64 (openssl rand -base64 32)'),
    undefined,
  ),
  consoleIdleMinutes: setting('ISOGATE_CONSOLE_IDLE_MINUTES', 'Minutes a web console session may stay unused before it ends (sign in again)', positiveInt.max(7 * 24 * 60), 30),
  publicUrl: setting(
    'ISOGATE_PUBLIC_URL',
    'Base URL of the data plane as users reach it (https://fn.example.com), for the links to http scripts in the web console; unset: the console host at PORT',
    z.string().url().refine((value) => /^https?:\/\//.test(value), 'must be an http(s) URL'),
    undefined,
  ),
  cacheBytesPerTenant: setting('ISOGATE_CACHE_BYTES_PER_TENANT', 'Bytes of `ctx.cache` entries one tenant may hold (keys plus serialized values); least recently used go first', positiveInt, 8 * 1024 * 1024),
  cacheValueBytes: setting('ISOGATE_CACHE_VALUE_BYTES', 'Largest `ctx.cache` value (serialized)', positiveInt, 1024 * 1024),
  metricsToken: setting(
    'ISOGATE_METRICS_TOKEN',
    'When set, `GET /metrics` requires `Authorization: Bearer <this token>`',
    z.string().min(8, 'must be at least 8 characters'),
    undefined,
  ),
  metricsMaxTenants: setting(
    'ISOGATE_METRICS_MAX_TENANTS',
    'Tenants that get a label value of their own in per-tenant metrics; the rest are counted as `_other`',
    positiveInt.max(100_000),
    1000,
  ),
  quotaTimeoutMs: setting('ISOGATE_QUOTA_TIMEOUT_MS', 'Default tenant quota: the largest `timeoutMs` a script may ask for', positiveInt.max(900_000), 120_000),
  quotaCpuMs: setting('ISOGATE_QUOTA_CPU_MS', 'Default tenant quota: the largest `cpuMs` a script may ask for', positiveInt.max(900_000), 30_000),
  quotaMemoryMb: setting('ISOGATE_QUOTA_MEMORY_MB', 'Default tenant quota: the heap limit of the tenant isolate (MB), so the largest `memoryMb` a script may ask for', positiveInt.min(8).max(4096), 256),
  quotaApiCalls: setting('ISOGATE_QUOTA_API_CALLS', 'Default tenant quota: the largest `apiCalls` a script may ask for', positiveInt.max(100_000), 1000),
  quotaOutputBytes: setting('ISOGATE_QUOTA_OUTPUT_BYTES', 'Default tenant quota: the largest `outputBytes` a script may ask for', positiveInt.max(100 * 1024 * 1024), 32 * 1024 * 1024),
  quotaScripts: setting('ISOGATE_QUOTA_SCRIPTS', 'Default tenant quota: scripts one tenant may have', positiveInt.max(100_000), 100),
  quotaRequestsPerSecond: setting(
    'ISOGATE_QUOTA_REQUESTS_PER_SECOND',
    'Default tenant quota: data-plane requests per second (token bucket per tenant and node, burst of one second); 0 is no limit',
    z.coerce.number().min(0).max(1_000_000),
    0,
  ),
  quotaDbBytes: setting('ISOGATE_QUOTA_DB_BYTES', 'Default tenant quota: bytes of `ctx.db` documents (JSON) one tenant may store', positiveInt, 100 * 1024 * 1024),
  eventRetentionDays: setting('ISOGATE_EVENT_RETENTION_DAYS', 'Days events and finished event deliveries are kept; older ones are purged in batches', positiveInt.max(36_500), 30),
  cronFireRetentionDays: setting('ISOGATE_CRON_FIRE_RETENTION_DAYS', 'Days finished cron fire claims are kept; older ones are purged in batches', positiveInt.max(36_500), 30),
  deadLetterRetentionDays: setting('ISOGATE_DEAD_LETTER_RETENTION_DAYS', 'Days dead letters are kept (replayed or not); older ones are purged in batches', positiveInt.max(36_500), 90),
} as const

type Settings = typeof settings
type ValueOf<S> = S extends SettingSpec<infer T, infer D> ? (D extends undefined ? T | undefined : T) : never

/** The validated, frozen process configuration. Optional settings are `undefined` when unset. */
export type Config = { readonly [K in keyof Settings]: ValueOf<Settings[K]> }

export type SettingKey = keyof Settings
