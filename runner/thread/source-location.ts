/** Where in the tenant's source an error happened. */
export interface SourceLocation {
  line: number
  column: number
}

export const SCRIPT_FILENAME = 'script.js'

const MESSAGE_LOCATION = /\s*\[script\.js:(\d+):(\d+)\]$/
const STACK_FRAME = /\(?script\.js:(\d+):(\d+)\)?/

/** isolated-vm appends ` [script.js:2:23]` to compile errors: split it off. */
export function splitMessageLocation(message: string): { message: string; location: SourceLocation | null } {
  const match = MESSAGE_LOCATION.exec(message)
  if (!match) return { message, location: null }
  return { message: message.slice(0, match.index), location: { line: Number(match[1]), column: Number(match[2]) } }
}

/** The first stack frame in the tenant's script, or null. */
export function stackLocation(stack: string): SourceLocation | null {
  const match = STACK_FRAME.exec(stack)
  return match ? { line: Number(match[1]), column: Number(match[2]) } : null
}

/** Keeps only the frames of the tenant's script: bootstrap and host frames are not the tenant's business. */
export function tenantStack(stack: string): string {
  const lines = stack.split('\n')
  const head = lines.filter((line) => !line.startsWith('    at '))
  const frames = lines.filter((line) => line.includes(SCRIPT_FILENAME) && line.startsWith('    at '))
  return [...head, ...frames].join('\n')
}

/** The source line with a caret under the column, like V8's own syntax error output. */
export function pointer(source: string, location: SourceLocation): string {
  const line = source.split('\n')[location.line - 1] ?? ''
  return `${line}\n${' '.repeat(Math.max(0, location.column - 1))}^`
}
