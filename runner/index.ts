/**
 * runner/: runner processes holding isolated-vm isolates per tenant in worker threads. It knows
 * nothing of HTTP routing or Postgres: it takes a program and an input and returns plain data.
 * gateway/ and src/ import the contract from here, never from a deeper path.
 */
export { IsolatePool, type IsolatePoolOptions, type PoolStats, type ThreadStats } from './process/isolate-pool.js'
// InlinePool (process/inline-pool.ts) is left out on purpose: it brings the whole thread side (the
// isolate host, the platform's code cache) into whoever imports it, which only a runner process
// without worker threads needs, and the gateway imports this.
export type { RunnerPool } from './process/inline-pool.js'
export { HostRegistry, type HostApiOptions, type HostCall, type HostFunction } from './thread/host-bridge.js'
export {
  RunnerSupervisor,
  type RunnerEvent,
  type RunnerInfo,
  type RunnerStatsEntry,
  type RunnerSupervisorOptions,
  type RunnerSupervisorStats,
} from './supervisor/runner-supervisor.js'
export { Quarantine, type QuarantineOptions } from './supervisor/quarantine.js'
export { FileLock } from './supervisor/file-lock.js'
export { Rendezvous, rank, threadRank } from './rendezvous.js'
export { NameTable, RoundRobin, RunTable } from './run-table.js'
export { RunnerError, RUNNER_ERROR_CODES, fromErrorData, runFailureStatus, toErrorData, type ErrorData, type RunnerErrorCode } from './errors.js'
export { errorCatalogue, HTTP_ERROR_CODES, IsogateError, type ErrorCatalogue, type ErrorEntry, type HttpErrorCode } from './isogate-error.js'
export {
  failedRun,
  isHeaderPairs,
  mergeLimits,
  programKey,
  runTask,
  sumEvicted,
  type CheckResult,
  type Evicted,
  type Executor,
  type HandlerKind,
  type HttpRequestData,
  type HttpResponseData,
  type LogEntry,
  type ProgramRef,
  type RunLimits,
  type RunMetrics,
  type RunResult,
  type RunTask,
  type TaskFields,
  type TenantEvictor,
} from './protocol.js'
export type { RunnersEvicted } from './supervisor/tenant-eviction.js'
export type { WorkerStats } from './thread/worker.js'
export { NearAnswer, NEAR_MAX_MS, type NearDrop, type NearSource } from './near-copies.js'
export { hostErrorData, type CallCancel, type HostAnswer, type HostCallHandler, type RelayedHostCall, type RemoteHostApi } from './host-call-channel.js'
