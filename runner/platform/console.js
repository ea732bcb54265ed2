// console and logger inside the isolate: every line goes to the current run's log buffer.
// Entry points into the isolate (a new run, a host call settling, a timer) set the current run,
// so lines from interleaved async runs land in the right record.

const LEVELS = ['debug', 'info', 'warn', 'error']

function formatValue(value, seen = new WeakSet()) {
  if (typeof value === 'string') return value
  if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`
  if (typeof value === 'function') return `[Function ${value.name || 'anonymous'}]`
  if (typeof value === 'symbol' || typeof value === 'bigint') return String(value)
  if (value === undefined) return 'undefined'
  if (typeof value !== 'object' || value === null) return String(value)
  try {
    return JSON.stringify(value, (key, v) => {
      if (typeof v === 'bigint') return `${v}n`
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]'
        seen.add(v)
      }
      return v
    })
  } catch {
    return Object.prototype.toString.call(value)
  }
}

export function format(args) {
  return Array.prototype.map.call(args, (value) => formatValue(value)).join(' ')
}

/** @param {(level: string, message: string) => void} write */
export function createConsole(write) {
  const console = {}
  for (const level of LEVELS) console[level] = (...args) => write(level, format(args))
  console.log = (...args) => write('info', format(args))
  console.trace = (...args) => write('debug', format(args))
  return Object.freeze(console)
}

/** @param {(level: string, message: string) => void} write */
export function createLogger(write) {
  return Object.freeze({
    debug: (...args) => write('debug', format(args)),
    info: (...args) => write('info', format(args)),
    warn: (...args) => write('warn', format(args)),
    error: (...args) => write('error', format(args)),
  })
}
