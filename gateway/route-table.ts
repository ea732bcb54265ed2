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
  | { kind: 'not-found'; tenantId: string }
  | { kind: 'method-not-allowed'; tenantId: string; allow: string[] }

interface Pattern {
  segments: string[]
  wildcard: boolean
  /** Per segment: 0 a literal, 1 a parameter; a trailing wildcard ranks 2 (see `moreSpecific`). */
  ranks: number[]
  methods: Map<string, Route>
}

interface TenantRoutes {
  tenantId: string
  exact: Map<string, Map<string, Route>>
  /** Most specific first. */
  patterns: Pattern[]
}

/**
 * The data plane's routes, in memory: tenant -> path pattern -> method. Kept fresh by change
 * notifications, so serving a request never queries the database.
 * Patterns: literal segments, `:name` parameters, a trailing `/*` wildcard (its match in
 * `params['*']`); `/*` alone is every path of the tenant.
 *
 * Precedence, most specific wins: segments are compared left to right, a literal before a
 * parameter before the wildcard, so `/a/b` > `/a/:x` > `/a/*` > `/*`, and `/a/b/*` > `/a/*`.
 * A route that matches the path but not the method gives way to a less specific route that has
 * the method (a `POST /api` script does not hide `GET /*`); when none has it, 405 lists the
 * methods of the routes that matched. A trailing slash is not significant, on routes or on
 * requests: `/a/` is served by the route `/a`, and the script sees the path as it was sent.
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
    this.#bySlug.set(name, compile(tenantId, routes))
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
    let allow: Set<string> | null = null
    const exact = tenant.exact.get(normalize(path))
    if (exact !== undefined) {
      const route = pickMethod(exact, method)
      if (route !== undefined) return { kind: 'found', route, params: {} }
      allow = addAllowed(allow, exact)
    }
    if (tenant.patterns.length > 0) {
      const segments = splitPath(path)
      for (const pattern of tenant.patterns) {
        const params = matchPattern(pattern, segments)
        if (params === null) continue
        const route = pickMethod(pattern.methods, method)
        if (route !== undefined) return { kind: 'found', route, params }
        allow = addAllowed(allow, pattern.methods)
      }
    }
    if (allow === null) return { kind: 'not-found', tenantId: tenant.tenantId }
    return { kind: 'method-not-allowed', tenantId: tenant.tenantId, allow: [...allow].sort() }
  }
}

function pickMethod(methods: Map<string, Route>, method: string): Route | undefined {
  return methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined)
}

function addAllowed(allow: Set<string> | null, methods: Map<string, Route>): Set<string> {
  const set = allow ?? new Set<string>()
  for (const method of methods.keys()) set.add(method)
  if (methods.has('GET')) set.add('HEAD')
  return set
}

function splitPath(path: string): string[] {
  const trimmed = normalize(path)
  return trimmed === '/' || trimmed === '' ? [] : trimmed.slice(1).split('/')
}

function normalize(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
}

/** Negative when `a` is more specific than `b` (see RouteTable). */
function moreSpecific(a: Pattern, b: Pattern): number {
  const length = Math.max(a.ranks.length, b.ranks.length)
  for (let i = 0; i < length; i++) {
    // Past its last segment a pattern without a wildcard matches nothing more: it ranks as the
    // more specific (it only matched because the path ended there).
    const ra = a.ranks[i] ?? (a.wildcard ? 2 : -1)
    const rb = b.ranks[i] ?? (b.wildcard ? 2 : -1)
    if (ra !== rb) return ra - rb
  }
  return 0
}

function compile(tenantId: string, routes: readonly Route[]): TenantRoutes {
  const exact = new Map<string, Map<string, Route>>()
  const patterns = new Map<string, Pattern>()
  for (const route of routes) {
    const path = normalize(route.path)
    const wildcard = path === '/*' || path.endsWith('/*')
    const dynamic = path.includes('/:') || wildcard
    if (!dynamic) {
      const methods = exact.get(path) ?? new Map<string, Route>()
      methods.set(route.method, route)
      exact.set(path, methods)
      continue
    }
    let pattern = patterns.get(path)
    if (pattern === undefined) {
      const segments = splitPath(wildcard ? path.slice(0, -2) || '/' : path)
      const ranks = segments.map((segment) => (segment.startsWith(':') ? 1 : 0))
      pattern = { segments, wildcard, ranks, methods: new Map() }
      patterns.set(path, pattern)
    }
    pattern.methods.set(route.method, route)
  }
  return { tenantId, exact, patterns: [...patterns.values()].sort(moreSpecific) }
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
