export { consolePlugin, type ConsoleOptions } from './console-plugin.js'
export { ExecutionHealthSource, type HealthSource, type MinuteStats } from './health-source.js'
