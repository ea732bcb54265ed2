import { request as httpRequest } from 'node:http'
import type { Test } from 'tap'
import { testConfig } from '../../config/test.js'
import type { ConfigOverrides } from '../../config/index.js'
import { startIsogate, type Isogate } from '../../src/app.js'
import { tempFolder } from './temp.js'

export const ADMIN_TOKEN = 'test-admin-token'

/**
 * Starts a whole isogate (database, runner threads, both servers on free ports) for a test. Its
 * data folder (an embedded database of 20-40 MB), unless the caller names one, is a tempFolder of
 * the test's: it goes when the test ends, after the gateway is closed.
 */
export async function startTestIsogate(t: Test, overrides: ConfigOverrides = {}): Promise<Isogate> {
  const isogate = await startIsogate(testConfig({ ...overrides, dataDir: overrides.dataDir ?? tempFolder(t, 'isogate-test-') }))
  t.teardown(() => isogate.close())
  return isogate
}

export interface ApiResponse {
  status: number
  headers: Headers
  body: any
}

/** Calls the control plane as a client would (real HTTP on loopback). */
export async function api(
  isogate: Isogate,
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null; tenant?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers }
  const token = options.token === undefined ? ADMIN_TOKEN : options.token
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (options.tenant !== undefined) headers['x-tenant'] = options.tenant
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`http://127.0.0.1:${isogate.adminPort}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) }
}

/** Calls the data plane. */
export async function call(isogate: Isogate, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${isogate.dataPort}${path}`, init)
}

/** Creates a tenant and an http script serving `path`; answers the script as the API does. */
export async function deploy(isogate: Isogate, tenant: string, path: string, source: string, extra: Record<string, unknown> = {}): Promise<any> {
  const exists = await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: tenant, name: tenant } })
  if (exists.status !== 201 && exists.status !== 409) throw new Error(`tenant ${tenant}: ${JSON.stringify(exists.body)}`)
  const created = await api(isogate, 'POST', '/api/v1/scripts', {
    tenant,
    body: { name: `s${path.replace(/[^A-Za-z0-9]/g, '_')}`, type: 'http', source, http: { path, methods: ['GET', 'POST'] }, ...extra },
  })
  if (created.status !== 201) throw new Error(`script ${path}: ${JSON.stringify(created.body)}`)
  return created.body
}

/** A request through node:http, for what fetch forbids a client to set (the Host header). */
export function rawRequest(port: number, options: { path: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: options.path, method: options.method ?? 'GET', headers: options.headers }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }))
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(options.body)
  })
}
