import type { Logger } from 'pino'
import type { Route, RouteTable } from '../gateway/index.js'
import type { TenantChange, TenantDirectory } from './services/tenant-directory.js'
import { KeyedQueue } from './services/keyed-queue.js'

export interface RouteFeedOptions {
  routes: RouteTable
  /** Which tenants exist, and their slugs (this node's copy, kept by TenantRelay across nodes). */
  directory: TenantDirectory
  /** Every active http route, or one tenant's (ScriptService.routes). */
  read: (tenantId?: string) => Promise<Route[]>
  logger: Logger
}

/**
 * Keeps the data plane's RouteTable in step with two sources: the scripts (a deploy, rollback or
 * status change, here or on another node through ChangeRelay) and the tenant directory (a tenant
 * made, renamed or deleted, here or through TenantRelay). So on every node an existing tenant with
 * no matching route answers 404 ROUTE_NOT_FOUND, an unknown or deleted one TENANT_NOT_FOUND (and a
 * suspended one 403 TENANT_SUSPENDED, from the gate), whichever notification comes first.
 *
 * A tenant's refreshes run one after another and each applies what the directory says when its
 * read is done, so a slow read that began before a deletion cannot bring the tenant back, and
 * routes read before the tenant was known here are applied once it is.
 *
 * @example
 * const feed = new RouteFeed({ routes, directory, read: (id) => scripts.routes(id), logger })
 * await feed.reloadAll()
 * changes.subscribe(({ tenantId }) => feed.refresh(tenantId))
 * directory.subscribe((change) => feed.tenantChanged(change))
 */
export class RouteFeed {
  readonly #routes: RouteTable
  readonly #directory: TenantDirectory
  readonly #read: (tenantId?: string) => Promise<Route[]>
  readonly #logger: Logger
  /** A tenant's refreshes, one after another. */
  readonly #queues = new KeyedQueue()

  constructor(options: RouteFeedOptions) {
    if (typeof options.read !== 'function') throw new TypeError('options.read must be a function')
    this.#routes = options.routes
    this.#directory = options.directory
    this.#read = options.read
    this.#logger = options.logger
  }

  /** Reads every route again (at start, and after the change notifications were interrupted). */
  async reloadAll(): Promise<void> {
    const routes = await this.#read()
    this.#routes.replaceAll(routes.filter((route) => this.#directory.get(route.tenantId) !== undefined), [...this.#directory.all()])
  }

  /** Reads one tenant's routes again and applies them (a script of the tenant changed). */
  refresh(tenantId: string): Promise<void> {
    return this.#queues.run(tenantId, () => this.#apply(tenantId))
  }

  /** A tenant was made, renamed or deleted (TenantDirectory listener). */
  async tenantChanged(change: TenantChange): Promise<void> {
    if (change.state === null) {
      // Gone at once; a refresh in flight re-checks the directory before it applies anything.
      this.#routes.removeTenant(change.tenantId)
      return
    }
    const made = change.previous === null
    if (change.previous !== null && change.previous.slug === change.state.slug) return
    // Known from now on (ROUTE_NOT_FOUND, not TENANT_NOT_FOUND), its routes as soon as they are read;
    // a renamed tenant keeps serving under its old name until its routes are read under the new one.
    if (made && !this.#routes.hasTenant(change.state.slug)) this.#routes.replaceTenant(change.tenantId, [], change.state.slug)
    await this.refresh(change.tenantId)
  }

  async #apply(tenantId: string): Promise<void> {
    let routes: Route[]
    try {
      routes = await this.#read(tenantId)
    } catch (error) {
      this.#logger.error({ err: error, tenantId }, 'could not refresh routes')
      return
    }
    const tenant = this.#directory.get(tenantId)
    if (tenant === undefined) this.#routes.removeTenant(tenantId)
    else this.#routes.replaceTenant(tenantId, routes, tenant.slug)
  }
}
