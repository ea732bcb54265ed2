export { consolePlugin, type ConsoleOptions } from './console-plugin.js'
export { lastMinutes, type HealthSource, type MinuteStats } from './health-source.js'
export { RollupHealthSource, type RollupHealthSourceOptions } from './rollup-health-source.js'
export { SessionAuth, type SessionIdentity } from './session-auth.js'
