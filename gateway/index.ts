/**
 * gateway/: the uWebSockets.js data plane. It routes from memory and hands runs to the runner;
 * it never queries the database on the request path.
 */
export { AdmissionController, type Admission, type AdmissionOptions, type AdmissionStats } from './admission.js'
export { CircuitBreaker, countsAgainstScript, type CircuitBreakerOptions, type CircuitChange } from './circuit-breaker.js'
export { DataPlane, type DataPlaneOptions, type HttpRun } from './data-plane.js'
export { EarlyResponses, type EarlyResponder } from './early-responses.js'
export { GatewayMetrics, type GatewayMetricsOptions } from './metrics.js'
export { OTHER_LABEL, TenantLabels, UNKNOWN_LABEL, statusLabel, type TenantLabelsOptions } from './metric-labels.js'
export { TenantGate, type GateVerdict, type TenantGateOptions, type TenantPolicy } from './tenant-gate.js'
export { RunnerMetrics, type RunnerCounters, type RunnerMetricsOptions, type RunnerStatsSource } from './runner-metrics.js'
export { DATA_PLANE_ERRORS, GatewayError, GATEWAY_ERROR_CODES, ROUTE_REFUSALS, type GatewayErrorCode } from './errors.js'
export { AccessLog, runStatus, type AccessLogOptions, type AccessLogRun } from './access-log.js'
export { RouteTable, type Route, type RouteMatch } from './route-table.js'
export { loadUws } from './uws.js'
export { ContainmentMetrics, type ContainmentSource } from './containment-metrics.js'
