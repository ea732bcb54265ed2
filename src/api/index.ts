export { createApiServer, type ApiDependencies } from './server.js'
export type { Readiness } from './routes/ops.js'
