import WebSocket from 'ws'
import type { Credentials } from './credentials.js'
import { CliError, exitForStatus } from './errors.js'

/**
 * The control plane as the CLI calls it: Bearer key, X-Tenant for a superadmin, JSON in and out.
 * A server error becomes a CliError with the server's code and an exit code from its status.
 *
 * @example
 * const api = new ApiClient(loadCredentials(cliEnvironment()))
 * const me = await api.get('/whoami')
 */
export class ApiClient {
  readonly #credentials: Credentials

  constructor(credentials: Credentials) {
    this.#credentials = credentials
  }

  get url(): string {
    return this.#credentials.url
  }

  get<T = any>(path: string): Promise<T> {
    return this.request('GET', path)
  }

  post<T = any>(path: string, body?: unknown): Promise<T> {
    return this.request('POST', path, body)
  }

  patch<T = any>(path: string, body?: unknown): Promise<T> {
    return this.request('PATCH', path, body)
  }

  /** `body` as is with this content type (a module upload), or JSON. */
  async request<T = any>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const headers: Record<string, string> = this.#headers()
    let payload: string | undefined
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json'
      payload = contentType === undefined ? JSON.stringify(body) : String(body)
    }
    let response: Response
    try {
      response = await fetch(`${this.#credentials.url}/api/v1${path}`, { method, headers, body: payload })
    } catch (error) {
      throw new CliError('SERVER_UNREACHABLE', `${this.#credentials.url} cannot be reached: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`, { cause: error })
    }
    const text = await response.text()
    let parsed: any = null
    try {
      parsed = text === '' ? null : JSON.parse(text)
    } catch {
      // Not JSON (a proxy's page): shown as text below.
      parsed = null
    }
    if (!response.ok) {
      const error = parsed?.error
      throw new CliError(error?.code ?? `HTTP_${response.status}`, error?.message ?? (text.slice(0, 200) || `HTTP ${response.status}`), { exitCode: exitForStatus(response.status), details: error?.details })
    }
    return parsed as T
  }

  /**
   * A WebSocket to `path` with the key and tenant headers; resolves once open. `onMessage` is
   * attached before it opens: a message that arrives in the same read as the upgrade's answer is
   * emitted before a caller awaiting the open runs its next line, and would be lost (the tail's
   * "ready", on a loaded machine).
   */
  socket(path: string, onMessage: (data: WebSocket.RawData) => void): Promise<WebSocket> {
    const url = `${this.#credentials.url.replace(/^http/, 'ws')}/api/v1${path}`
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: this.#headers() })
      socket.on('message', onMessage)
      socket.once('open', () => resolve(socket))
      socket.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          let error: any = null
          try {
            error = JSON.parse(Buffer.concat(chunks).toString('utf8')).error
          } catch {
            error = null
          }
          reject(new CliError(error?.code ?? `HTTP_${response.statusCode}`, error?.message ?? `HTTP ${response.statusCode}`, { exitCode: exitForStatus(response.statusCode ?? 500) }))
        })
      })
      socket.once('error', (error) => reject(new CliError('SERVER_UNREACHABLE', `${url} cannot be reached: ${error.message}`, { cause: error })))
    })
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#credentials.token}` }
    if (this.#credentials.tenant !== undefined) headers['x-tenant'] = this.#credentials.tenant
    return headers
  }
}
