import type { RunLimits } from '../runner/index.js'

/** One route a tenant's active http script serves, with what the runner needs to run it. */
export interface Route {
  tenantId: string
  tenantSlug: string
  method: string
  path: string
  scriptId: string
  version: number
  source: string
  sourceHash: string
  limits: Partial<RunLimits>
  /** Share of successful runs recorded in full (issue 15); undefined: the gateway's default. */
  sampleRate?: number | undefined
  env: Record<string, string>
  /**
   * Data-plane auth: undefined serves anyone; a string must be presented by each request as
   * `Authorization: Bearer …` or `x-runtime-secret: …`; null refuses every request (the script
   * names a secret it does not have).
   */
  authToken?: string | null | undefined
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'tenant-not-found' }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allow: string[] }

interface Pattern {
  segments: string[]
  wildcard: boolean
  /** More literal segments first, then longer patterns, then no wildcard. */
  score: number
  methods: Map<string, Route>
}

interface TenantRoutes {
  exact: Map<string, Map<string, Route>>
  patterns: Pattern[]
}

/**
 * The data plane's routes, in memory: tenant -> path pattern -> method. Kept fresh by change
 * notifications, so serving a request never queries the database.
 * Patterns: literal segments, `:name` parameters, a trailing `/*` wildcard (its match in `params['*']`).
 */
export class RouteTable {
  readonly #bySlug = new Map<string, TenantRoutes>()
  readonly #slugById = new Map<string, string>()

  /**
   * Replaces every route of one tenant. A tenant with no routes stays known (its requests answer
   * ROUTE_NOT_FOUND, not TENANT_NOT_FOUND) when its slug is given or was known before.
   */
  replaceTenant(tenantId: string, routes: readonly Route[], slug: string | undefined = this.#slugById.get(tenantId)): void {
    const previous = this.#slugById.get(tenantId)
    if (previous !== undefined) this.#bySlug.delete(previous)
    this.#slugById.delete(tenantId)
    const name = routes[0]?.tenantSlug ?? slug
    if (name === undefined) return
    this.#slugById.set(tenantId, name)
    this.#bySlug.set(name, compile(routes))
  }

  /** Forgets a tenant: its requests answer TENANT_NOT_FOUND. */
  removeTenant(tenantId: string): void {
    const previous = this.#slugById.get(tenantId)
    if (previous !== undefined) this.#bySlug.delete(previous)
    this.#slugById.delete(tenantId)
  }

  /** Replaces the whole table (at start); `tenants` are every tenant, those with no route included. */
  replaceAll(routes: readonly Route[], tenants: ReadonlyArray<{ id: string; slug: string }> = []): void {
    this.#bySlug.clear()
    this.#slugById.clear()
    const byTenant = new Map<string, Route[]>()
    for (const tenant of tenants) byTenant.set(tenant.id, [])
    const slugs = new Map(tenants.map((tenant) => [tenant.id, tenant.slug]))
    for (const route of routes) {
      const list = byTenant.get(route.tenantId) ?? []
      list.push(route)
      byTenant.set(route.tenantId, list)
    }
    for (const [tenantId, list] of byTenant) this.replaceTenant(tenantId, list, slugs.get(tenantId))
  }

  hasTenant(slug: string): boolean {
    return this.#bySlug.has(slug)
  }

  match(slug: string, method: string, path: string): RouteMatch {
    const tenant = this.#bySlug.get(slug)
    if (tenant === undefined) return { kind: 'tenant-not-found' }
    const exact = tenant.exact.get(path)
    if (exact !== undefined) return pick(exact, method, {})
    const segments = splitPath(path)
    for (const pattern of tenant.patterns) {
      const params = matchPattern(pattern, segments)
      if (params !== null) return pick(pattern.methods, method, params)
    }
    return { kind: 'not-found' }
  }
}

function pick(methods: Map<string, Route>, method: string, params: Record<string, string>): RouteMatch {
  const route = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined)
  if (route !== undefined) return { kind: 'found', route, params }
  const allow = [...methods.keys()]
  if (methods.has('GET') && !methods.has('HEAD')) allow.push('HEAD')
  return { kind: 'method-not-allowed', allow: allow.sort() }
}

function splitPath(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
  return trimmed === '/' || trimmed === '' ? [] : trimmed.slice(1).split('/')
}

function normalize(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
}

function compile(routes: readonly Route[]): TenantRoutes {
  const exact = new Map<string, Map<string, Route>>()
  const patterns = new Map<string, Pattern>()
  for (const route of routes) {
    const path = normalize(route.path)
    const dynamic = path.includes('/:') || path.endsWith('/*')
    if (!dynamic) {
      const methods = exact.get(path) ?? new Map<string, Route>()
      methods.set(route.method, route)
      exact.set(path, methods)
      continue
    }
    let pattern = patterns.get(path)
    if (pattern === undefined) {
      const wildcard = path.endsWith('/*')
      const segments = splitPath(wildcard ? path.slice(0, -2) || '/' : path)
      const literals = segments.filter((segment) => !segment.startsWith(':')).length
      pattern = { segments, wildcard, score: literals * 1000 + segments.length * 10 + (wildcard ? 0 : 1), methods: new Map() }
      patterns.set(path, pattern)
    }
    pattern.methods.set(route.method, route)
  }
  return { exact, patterns: [...patterns.values()].sort((a, b) => b.score - a.score) }
}

function matchPattern(pattern: Pattern, segments: string[]): Record<string, string> | null {
  if (pattern.wildcard ? segments.length < pattern.segments.length : segments.length !== pattern.segments.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < pattern.segments.length; i++) {
    const expected = pattern.segments[i] as string
    const actual = segments[i] as string
    if (expected.startsWith(':')) {
      if (actual === '') return null
      params[expected.slice(1)] = safeDecode(actual)
    } else if (expected !== actual) {
      return null
    }
  }
  if (pattern.wildcard) params['*'] = segments.slice(pattern.segments.length).map(safeDecode).join('/')
  return params
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    // A malformed escape is passed on as it came, like most routers do.
    return segment
  }
}
