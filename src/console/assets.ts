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
  const load = async (file: string): Promise<Buffer> => {
    let body = cache.get(file)
    if (body === undefined) {
      try {
        body = await readFile(path.join(dir, file))
      } catch (error) {
        throw new AppError('NOT_FOUND', `asset ${file} is not built: run npm run build:console`, undefined, { cause: error })
      }
      cache.set(file, body)
    }
    return body
  }
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const name = request.params.name
    const type = TYPES[name]
    if (type === undefined) throw new AppError('NOT_FOUND', `no asset ${name}`)
    reply.type(type).header('cache-control', 'public, max-age=300').header('vary', 'accept-encoding')
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(await load(`${name}.gz`))
    return reply.send(await load(name))
  })
}
