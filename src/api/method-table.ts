import FindMyWay from 'find-my-way'
import type { FastifyInstance } from 'fastify'

/**
 * Which methods each control-plane path serves, so a wrong method is 405 with `Allow` instead of
 * Fastify's 404 (its router only says "no route for this method"). A second find-my-way (the
 * router Fastify itself uses) holds every route as it is added, with the same matching rules.
 *
 * @example
 * const methods = new MethodTable(app)          // before the routes are registered
 * methods.allowed('/api/v1/scripts/abc')        // ['DELETE', 'GET', 'HEAD', 'PATCH']
 */
export class MethodTable {
  readonly #router = FindMyWay()
  readonly #routes = new Set<string>()
  readonly #methods = new Set<string>()

  constructor(app: FastifyInstance) {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      for (const method of methods) {
        if (this.#routes.has(`${method} ${route.url}`)) continue
        this.#routes.add(`${method} ${route.url}`)
        this.#methods.add(method)
        this.#router.on(method as 'GET', route.url, () => {})
      }
    })
  }

  /** The methods some route serves at this URL (query ignored), sorted; empty when none does. */
  allowed(url: string): string[] {
    const path = url.split('?', 1)[0] ?? url
    const found: string[] = []
    for (const method of this.#methods) {
      if (this.#router.find(method as 'GET', path) !== null) found.push(method)
    }
    return found.sort()
  }
}
