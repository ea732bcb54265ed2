/**
 * runner/: worker threads holding isolated-vm isolates per tenant. It knows nothing of HTTP
 * routing or Postgres: it takes a program and an input and returns plain data.
 */
export { IsolatePool, type IsolatePoolOptions, type PoolStats } from './process/isolate-pool.js'
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
export { rank } from './rendezvous.js'
export { RunnerError, RUNNER_ERROR_CODES, fromErrorData, toErrorData, type ErrorData, type RunnerErrorCode } from './errors.js'
export type {
  CheckResult,
  HandlerKind,
  HttpRequestData,
  HttpResponseData,
  LogEntry,
  ProgramRef,
  RunLimits,
  RunMetrics,
  RunResult,
  RunTask,
} from './protocol.js'
export type { WorkerStats } from './thread/worker.js'
export { type HostAnswer, type HostCallHandler, type RelayedHostCall, type RemoteHostApi } from './host-relay.js'
