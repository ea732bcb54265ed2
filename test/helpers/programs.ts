import { createHash } from 'node:crypto'
import { threadRank, type HttpRequestData, type ProgramRef, type RunLimits, type RunTask } from '../../runner/index.js'

export const LIMITS: RunLimits = { timeoutMs: 2000, cpuMs: 500, memoryMb: 64, apiCalls: 100, outputBytes: 1024 * 1024 }

/**
 * A tenant's program. Its script id is the tenant's own unless given: a runner keys what it learns
 * of a program (its steps' costs, its compiled code) by script, version and source, and scripts
 * are never shared between tenants, so neither is what one test's runs taught the runner.
 */
export function program(tenantId: string, source: string, scriptId = `script-${tenantId}`, version = 1): ProgramRef {
  return { tenantId, scriptId, version, source, sourceHash: createHash('sha256').update(source).digest('hex') }
}

export function request(overrides: Partial<HttpRequestData> = {}): HttpRequestData {
  return { method: 'GET', url: 'http://example.test/', headers: [], body: null, params: {}, ...overrides }
}

export function fetchTask(tenantId: string, source: string, input: Partial<HttpRequestData> = {}, limits: Partial<RunLimits> = {}): RunTask {
  return { kind: 'fetch', program: program(tenantId, source), input: request(input), env: {}, limits: { ...LIMITS, ...limits } }
}

export function bodyText(body: string | ArrayBuffer | null | undefined): string {
  if (body === null || body === undefined) return ''
  return typeof body === 'string' ? body : Buffer.from(body).toString('utf8')
}

/** The first tenant id with this prefix whose home among two worker threads is `thread`. */
export function tenantOnThread(thread: number, prefix: string): string {
  for (let i = 0; i < 1000; i++) if (threadRank(`${prefix}-${i}`, 2)[0] === thread) return `${prefix}-${i}`
  throw new Error('no tenant id found')
}
