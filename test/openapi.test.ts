import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import SwaggerParser from '@apidevtools/swagger-parser'
import openapiTS, { astToString } from 'openapi-typescript'
import { pino } from 'pino'
import t from 'tap'
import ts from 'typescript'
import { createApiServer, type ApiDependencies } from '../src/api/index.js'
import { tempFolder } from './helpers/temp.js'

/**
 * The control plane's OpenAPI document, as /api/v1/openapi.json serves it. The document is built
 * from the routes' schemas when the server is made: no handler runs here, so the services are not
 * needed (they are never called) and no database starts.
 */
async function documentOf(): Promise<any> {
  const never = new Proxy({}, { get: () => () => Promise.reject(new Error('no service is called while the document is built')) })
  const deps = {
    auth: never,
    tenants: never,
    scripts: never,
    executions: never,
    audit: never,
    readiness: never,
    metrics: { contentType: 'text/plain', render: async () => '' },
    triggers: { cron: never, events: never },
    logger: pino({ level: 'silent' }),
  } as unknown as ApiDependencies
  const app = createApiServer(deps)
  await app.ready()
  const response = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })
  await app.close()
  return response.json()
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

t.test('the OpenAPI document validates with swagger-parser', async (t) => {
  const doc = await documentOf()
  t.equal(doc.openapi, '3.0.3')
  await t.resolves(SwaggerParser.validate(structuredClone(doc)), 'a valid OpenAPI 3.0 document, every $ref resolved')
})

t.test('every operation has an operationId, a summary, its parameters, a success status and error responses', async (t) => {
  const doc = await documentOf()
  const ids = new Set<string>()
  for (const [route, item] of Object.entries<any>(doc.paths)) {
    for (const method of METHODS) {
      const operation = item[method]
      if (operation === undefined) continue
      const name = `${method.toUpperCase()} ${route}`
      t.type(operation.operationId, 'string', `${name} has an operationId`)
      t.notOk(ids.has(operation.operationId), `${name}: operationId ${operation.operationId} is unique`)
      ids.add(operation.operationId)
      t.ok(typeof operation.summary === 'string' && operation.summary.length > 0, `${name} has a summary`)
      const statuses = Object.keys(operation.responses ?? {})
      t.ok(statuses.some((status) => /^2\d\d$/.test(status)), `${name} documents its success status`)
      for (const placeholder of route.match(/\{[^}]+\}/g) ?? []) {
        const param = placeholder.slice(1, -1)
        t.ok(operation.parameters?.some((p: any) => p.in === 'path' && p.name === param && p.required), `${name} documents its path parameter ${param}`)
      }
      if (!route.startsWith('/api/v1/')) continue
      for (const status of ['400', '401', '403', '404', '500']) t.ok(statuses.includes(status), `${name} documents ${status}`)
      t.match(operation.responses['404'].content['application/json'].schema, { properties: { error: { properties: { code: { type: 'string' } } } } }, `${name}: errors in the envelope`)
      if (!route.startsWith('/api/v1/tenants')) {
        t.ok(operation.parameters?.some((p: any) => p.in === 'header' && p.name === 'x-tenant'), `${name} documents X-Tenant`)
      }
      if (method === 'post' || method === 'patch') {
        const bodyless = ['/api/v1/dead-letters/{id}/replay', '/api/v1/tenants/{slug}/suspend', '/api/v1/tenants/{slug}/resume']
        if (!bodyless.includes(route)) t.ok(operation.requestBody?.content?.['application/json']?.schema, `${name} documents its body`)
      }
    }
  }
  t.ok(ids.size >= 20, `${ids.size} operations`)
  t.ok(doc.paths['/api/v1/events'].post.responses['202'], 'POST /events is documented as 202, as it answers')
  t.ok(doc.paths['/api/v1/dead-letters/{id}/replay'].post.responses['202'], 'replay is documented as 202')
})

t.test('a typed client generated from the document with openapi-typescript compiles a call', async (t) => {
  const doc = await documentOf()
  const types = astToString(await openapiTS(doc))
  const dir = tempFolder(t, 'isogate-openapi-')
  writeFileSync(path.join(dir, 'schema.ts'), types)
  const fetchClient = path.dirname(fileURLToPath(import.meta.resolve('openapi-fetch')))
  writeFileSync(
    path.join(dir, 'client.ts'),
    `import createClient from ${JSON.stringify(path.join(fetchClient, 'index.js'))}
import type { paths } from './schema.js'

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:8081' })

export async function deploy(): Promise<string | undefined> {
  const { data, error } = await client.POST('/api/v1/scripts', {
    params: { header: { 'x-tenant': 'acme' } },
    body: { name: 'hello', type: 'http', source: 'export default {}', http: { path: '/hello', methods: ['GET'] } },
  })
  if (error !== undefined) return error.error.code
  return String(data.id)
}

export async function misuse(): Promise<void> {
  // @ts-expect-error: type must be one of the script types
  await client.POST('/api/v1/scripts', { body: { name: 'x', type: 'daemon', source: '' } })
}
`,
  )
  const program = ts.createProgram([path.join(dir, 'client.ts')], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  })
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  t.same(diagnostics, [], 'the call type-checks against the generated types (and the misuse is caught)')
})
