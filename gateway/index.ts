/**
 * gateway/: the uWebSockets.js data plane. It routes from memory and hands runs to the runner;
 * it never queries the database on the request path.
 */
export { DataPlane, type DataPlaneOptions, type RunExecutor } from './data-plane.js'
export { GatewayError, GATEWAY_ERROR_CODES, type GatewayErrorCode } from './errors.js'
export { RouteTable, type Route, type RouteMatch } from './route-table.js'
export { loadUws } from './uws.js'
