import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { AppError } from '../errors.js'

/** Where `npm run build:console` puts the browser assets (see assets-build.mjs). */
export const DEFAULT_ASSETS_DIR = fileURLToPath(
  // From src/console/ (tsx) the assets are in ../../dist/console; from dist/src/console/ (built) in ../../console.
  import.meta.url.includes('/dist/src/console/') ? new URL('../../console/', import.meta.url) : new URL('../../dist/console/', import.meta.url),
)

const TYPES: Record<string, string> = {
  'htmx.min.js': 'text/javascript; charset=utf-8',
  'editor.js': 'text/javascript; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
}

/** The built assets, from this server only (no CDN): a fixed list, read once, kept in memory. */
export const assetRoutes: FastifyPluginAsync<{ assetsDir: string | undefined }> = async (app, { assetsDir }) => {
  const dir = assetsDir ?? DEFAULT_ASSETS_DIR
  const cache = new Map<string, Buffer>()
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const name = request.params.name
    const type = TYPES[name]
    if (type === undefined) throw new AppError('NOT_FOUND', `no asset ${name}`)
    let body = cache.get(name)
    if (body === undefined) {
      try {
        body = await readFile(path.join(dir, name))
      } catch (error) {
        throw new AppError('NOT_FOUND', `asset ${name} is not built: run npm run build:console`, undefined, { cause: error })
      }
      cache.set(name, body)
    }
    return reply.type(type).header('cache-control', 'public, max-age=300').send(body)
  })
}
