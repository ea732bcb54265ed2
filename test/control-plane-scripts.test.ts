import t from 'tap'
import { databaseTargets } from './helpers/databases.js'
import { api, call, startTestIsogate } from './helpers/isogate.js'

const RUNNABLE = (label: string): string => `export default {
  fetch() { return new Response(${JSON.stringify(label)}) },
  run(input) { return { label: ${JSON.stringify(label)}, input } },
  scheduled() {},
  event() {},
}`

for (const target of databaseTargets()) {
  t.test(`scripts API on the ${target.name} database`, async (t) => {
    const databaseUrl = await target.createUrl()
    t.teardown(() => target.cleanup())
    const isogate = await startTestIsogate(t, { databaseUrl })
    t.equal((await api(isogate, 'POST', '/api/v1/tenants', { body: { slug: 'acme', name: 'Acme' } })).status, 201)
    const as = (method: string, path: string, body?: unknown) => api(isogate, method, path, { tenant: 'acme', ...(body === undefined ? {} : { body }) })
    const create = async (name: string, extra: Record<string, unknown> = {}) => {
      const response = await as('POST', '/api/v1/scripts', { name, type: 'http', source: RUNNABLE(name), http: { path: `/${name}` }, ...extra })
      if (response.status !== 201) throw new Error(`${name}: ${JSON.stringify(response.body)}`)
      return response.body
    }

    t.test('PATCH of the source makes a new immutable version and the data plane serves it at once', async (t) => {
      const script = await create('patched')
      t.equal(await (await call(isogate, '/acme/patched')).text(), 'patched')
      const changed = await as('PATCH', `/api/v1/scripts/${script.id}`, { source: RUNNABLE('second') })
      t.equal(changed.status, 200)
      t.match(changed.body, { id: script.id, version: 2, source: RUNNABLE('second') })
      t.equal(await (await call(isogate, '/acme/patched')).text(), 'second')

      const same = await as('PATCH', `/api/v1/scripts/${script.id}`, { source: RUNNABLE('second') })
      t.equal(same.body.version, 2, 'the same source makes no new version')
      const renamed = await as('PATCH', `/api/v1/scripts/${script.id}`, { name: 'patched-renamed', env: { A: '1' } })
      t.match(renamed.body, { name: 'patched-renamed', version: 2, env: { A: '1' } })

      const moved = await as('PATCH', `/api/v1/scripts/${script.id}`, { http: { path: '/moved', methods: ['POST'] } })
      t.equal(moved.status, 200)
      t.equal((await call(isogate, '/acme/patched')).status, 404, 'the old route is gone')
      t.equal(await (await call(isogate, '/acme/moved', { method: 'POST' })).text(), 'second')

      const versions = await as('GET', `/api/v1/scripts/${script.id}/versions`)
      t.equal(versions.status, 200)
      t.same(versions.body.items.map((v: any) => v.version), [2, 1])
      t.equal(versions.body.nextCursor, null)
      t.notOk('source' in versions.body.items[0], 'the list leaves the source out')
      const v1 = await as('GET', `/api/v1/scripts/${script.id}/versions/1`)
      t.equal(v1.body.source, RUNNABLE('patched'))
      t.equal((await as('GET', `/api/v1/scripts/${script.id}/versions/9`)).body.error.code, 'VERSION_NOT_FOUND')
    })

    t.test('rollback makes a new version with the old source; history is kept', async (t) => {
      const script = await create('rolled')
      await as('PATCH', `/api/v1/scripts/${script.id}`, { source: RUNNABLE('two') })
      await as('PATCH', `/api/v1/scripts/${script.id}`, { source: RUNNABLE('three') })
      t.equal(await (await call(isogate, '/acme/rolled')).text(), 'three')
      const back = await as('POST', `/api/v1/scripts/${script.id}/rollback`, { version: 1 })
      t.equal(back.status, 200)
      t.match(back.body, { version: 4, source: RUNNABLE('rolled') })
      t.equal(await (await call(isogate, '/acme/rolled')).text(), 'rolled', 'the data plane serves the rolled-back source')
      const versions = await as('GET', `/api/v1/scripts/${script.id}/versions?limit=2`)
      t.same(versions.body.items.map((v: any) => v.version), [4, 3])
      const rest = await as('GET', `/api/v1/scripts/${script.id}/versions?limit=2&cursor=${versions.body.nextCursor}`)
      t.same(rest.body.items.map((v: any) => v.version), [2, 1])
      t.equal(rest.body.items[1].sourceHash, versions.body.items[0].sourceHash, 'version 4 has version 1\'s source')
      const missing = await as('POST', `/api/v1/scripts/${script.id}/rollback`, { version: 99 })
      t.equal(missing.status, 404)
      t.equal(missing.body.error.code, 'VERSION_NOT_FOUND')
      const invalid = await as('POST', `/api/v1/scripts/${script.id}/rollback`, { version: 0 })
      t.match(invalid.body.error, { code: 'VALIDATION_FAILED', details: { fields: [{ field: 'version' }] } })
    })

    t.test('status changes follow the allowed transitions and keep routes in step', async (t) => {
      const script = await create('lifecycle')
      const paused = await as('PATCH', `/api/v1/scripts/${script.id}`, { status: 'paused' })
      t.equal(paused.body.status, 'paused')
      t.equal((await call(isogate, '/acme/lifecycle')).status, 404, 'a paused script serves nothing')
      const active = await as('PATCH', `/api/v1/scripts/${script.id}`, { status: 'active' })
      t.equal(active.body.status, 'active')
      t.equal((await call(isogate, '/acme/lifecycle')).status, 200)
      t.equal((await as('PATCH', `/api/v1/scripts/${script.id}`, { status: 'archived' })).body.status, 'archived')
      const refused = await as('PATCH', `/api/v1/scripts/${script.id}`, { status: 'active' })
      t.equal(refused.status, 409)
      t.match(refused.body.error, { code: 'STATUS_TRANSITION_INVALID', details: { from: 'archived', to: 'active', allowed: ['draft'] } })
      t.equal((await as('PATCH', `/api/v1/scripts/${script.id}`, { status: 'draft' })).body.status, 'draft')
      const draftToPaused = await as('PATCH', `/api/v1/scripts/${script.id}`, { status: 'paused' })
      t.equal(draftToPaused.body.error.code, 'STATUS_TRANSITION_INVALID')
    })

    t.test('DELETE removes the script, its versions and its routes', async (t) => {
      const script = await create('doomed')
      t.equal((await as('DELETE', `/api/v1/scripts/${script.id}`)).status, 204)
      t.equal((await as('GET', `/api/v1/scripts/${script.id}`)).status, 404)
      t.equal((await as('GET', `/api/v1/scripts/${script.id}/versions`)).status, 404)
      t.equal((await call(isogate, '/acme/doomed')).status, 404)
      t.equal((await as('DELETE', `/api/v1/scripts/${script.id}`)).status, 404)
      t.equal((await create('doomed')).version, 1, 'the name is free again')
    })

    t.test('lists filter by type, status and name and answer {items, nextCursor}', async (t) => {
      await create('filter-http-a')
      await create('filter-draft-b', { status: 'draft' })
      await as('POST', '/api/v1/scripts', { name: 'filter-cron-c', type: 'scheduled', source: RUNNABLE('c'), cron: { expression: '*/5 * * * *', timezone: 'Europe/Paris' } })
      await as('POST', '/api/v1/scripts', { name: 'filter-event-d', type: 'event', source: RUNNABLE('d'), events: { types: ['order.created'] } })
      const names = async (query: string) => (await as('GET', `/api/v1/scripts?${query}`)).body.items.map((s: any) => s.name).sort()
      t.same(await names('q=filter-'), ['filter-cron-c', 'filter-draft-b', 'filter-event-d', 'filter-http-a'])
      t.same(await names('q=FILTER-&type=scheduled'), ['filter-cron-c'])
      t.same(await names('q=filter&status=draft'), ['filter-draft-b'])
      t.same(await names('q=filter&type=http&status=active'), ['filter-http-a'])
      t.same(await names('q=%25'), [], 'a % in the search is a literal character')
      const listed = await as('GET', '/api/v1/scripts?q=filter-cron')
      t.match(listed.body, { items: [{ name: 'filter-cron-c', cron: { expression: '*/5 * * * *', timezone: 'Europe/Paris' } }], nextCursor: null })
      t.notOk('source' in listed.body.items[0])
    })

    t.test('keyset pagination never repeats or skips a script while others are being created', async (t) => {
      const originals: string[] = []
      for (let i = 0; i < 23; i++) originals.push((await create(`page-${String(i).padStart(2, '0')}`)).id)
      const seen: string[] = []
      let cursor: string | null = null
      let extra = 0
      do {
        const query: string = `q=page-&limit=5${cursor ? `&cursor=${cursor}` : ''}`
        // Insert while the page is being read: new scripts land before the first page, never inside the walk.
        const [page] = await Promise.all([as('GET', `/api/v1/scripts?${query}`), create(`page-new-${extra++}`)])
        t.equal(page.status, 200)
        t.ok(page.body.items.length <= 5)
        seen.push(...page.body.items.map((s: any) => s.id))
        cursor = page.body.nextCursor
      } while (cursor !== null)
      const walked = seen.filter((id) => originals.includes(id))
      t.equal(new Set(seen).size, seen.length, 'no script is listed twice')
      t.same(walked, [...originals].reverse(), 'every original script, newest first, exactly once')
      const bad = await as('GET', '/api/v1/scripts?cursor=not-a-cursor')
      t.match(bad.body.error, { code: 'VALIDATION_FAILED', details: { fields: [{ field: 'cursor' }] } })
    })

    t.test('every validation rule answers with its code and names the field', async (t) => {
      const base = { name: 'valid', type: 'http', source: RUNNABLE('v'), http: { path: '/valid' } }
      const cases: Array<[string, Record<string, unknown>, number, string, string | null]> = [
        ['name missing', { ...base, name: undefined }, 400, 'VALIDATION_FAILED', 'name'],
        ['name with a slash', { ...base, name: 'a/b' }, 400, 'VALIDATION_FAILED', 'name'],
        ['name over 100 characters', { ...base, name: 'n'.repeat(101) }, 400, 'VALIDATION_FAILED', 'name'],
        ['unknown type', { ...base, type: 'daemon' }, 400, 'VALIDATION_FAILED', 'type'],
        ['unknown status', { ...base, status: 'live' }, 400, 'VALIDATION_FAILED', 'status'],
        ['source missing', { ...base, source: undefined }, 400, 'VALIDATION_FAILED', 'source'],
        ['source over 100 KB', { ...base, source: `export default {}\n//${'x'.repeat(100 * 1024)}` }, 413, 'SOURCE_TOO_LARGE', 'source'],
        ['source that does not compile', { ...base, source: 'export default {' }, 400, 'SCRIPT_SYNTAX_ERROR', 'source'],
        ['source that imports', { ...base, source: 'import x from "fs"\nexport default {}' }, 400, 'SCRIPT_IMPORT_FORBIDDEN', 'source'],
        ['http script without http', { ...base, http: undefined }, 400, 'VALIDATION_FAILED', 'http'],
        ['route path without a slash', { ...base, http: { path: 'nope' } }, 400, 'VALIDATION_FAILED', 'http.path'],
        ['no methods', { ...base, http: { path: '/v', methods: [] } }, 400, 'VALIDATION_FAILED', 'http.methods'],
        ['unknown method', { ...base, http: { path: '/v', methods: ['BREW'] } }, 400, 'VALIDATION_FAILED', 'http.methods.0'],
        ['repeated method', { ...base, http: { path: '/v', methods: ['GET', 'GET'] } }, 400, 'VALIDATION_FAILED', 'http.methods'],
        ['scheduled without cron', { ...base, type: 'scheduled', http: undefined }, 400, 'VALIDATION_FAILED', 'cron'],
        ['cron with 4 fields', { ...base, type: 'scheduled', cron: { expression: '* * * *' } }, 400, 'VALIDATION_FAILED', 'cron.expression'],
        ['cron minute 61', { ...base, type: 'scheduled', cron: { expression: '61 * * * *' } }, 400, 'VALIDATION_FAILED', 'cron.expression'],
        ['unknown time zone', { ...base, type: 'scheduled', cron: { expression: '0 * * * *', timezone: 'Mars/Olympus' } }, 400, 'VALIDATION_FAILED', 'cron.timezone'],
        ['event without events', { ...base, type: 'event' }, 400, 'VALIDATION_FAILED', 'events'],
        ['event with no types', { ...base, type: 'event', events: { types: [] } }, 400, 'VALIDATION_FAILED', 'events.types'],
        ['memory under 8 MB', { ...base, limits: { memoryMb: 4 } }, 400, 'VALIDATION_FAILED', 'limits.memoryMb'],
        ['unknown limit', { ...base, limits: { disk: 1 } }, 400, 'VALIDATION_FAILED', 'limits'],
        ['env name not an identifier', { ...base, env: { 'not-ok': 'x' } }, 400, 'VALIDATION_FAILED', 'env'],
        ['unknown field', { ...base, owner: 'me' }, 400, 'VALIDATION_FAILED', 'owner'],
      ]
      for (const [label, body, status, code, field] of cases) {
        const response = await as('POST', '/api/v1/scripts', JSON.parse(JSON.stringify(body)))
        t.equal(response.status, status, `${label}: status`)
        t.equal(response.body.error?.code, code, `${label}: code`)
        const fields = response.body.error?.details?.fields?.map((f: any) => f.field) ?? []
        if (field !== null) t.ok(fields.some((f: string) => f === field || f.startsWith(`${field}.`)), `${label}: names ${field} (got ${fields})`)
      }
      t.equal((await as('GET', '/api/v1/scripts?q=valid')).body.items.length, 0, 'nothing invalid was created')

      await create('taken', { http: { path: '/taken-route' } })
      const nameTaken = await as('POST', '/api/v1/scripts', { ...base, name: 'taken' })
      t.equal(nameTaken.status, 409)
      t.equal(nameTaken.body.error.code, 'SCRIPT_NAME_TAKEN')
      const routeTaken = await as('POST', '/api/v1/scripts', { ...base, name: 'other', http: { path: '/taken-route' } })
      t.equal(routeTaken.status, 409)
      t.equal(routeTaken.body.error.code, 'ROUTE_TAKEN')
      const draft = await as('POST', '/api/v1/scripts', { ...base, name: 'other', status: 'draft', http: { path: '/taken-route' } })
      t.equal(draft.status, 201, 'a draft may share the path of an active script')
      const activate = await as('PATCH', `/api/v1/scripts/${draft.body.id}`, { status: 'active' })
      t.equal(activate.status, 409)
      t.equal(activate.body.error.code, 'ROUTE_TAKEN', 'activating it would take the route: refused')
      const rename = await as('PATCH', `/api/v1/scripts/${draft.body.id}`, { name: 'taken' })
      t.equal(rename.body.error.code, 'SCRIPT_NAME_TAKEN')

      const empty = await as('PATCH', `/api/v1/scripts/${draft.body.id}`, {})
      t.equal(empty.body.error.code, 'VALIDATION_FAILED')
      const toScheduled = await as('PATCH', `/api/v1/scripts/${draft.body.id}`, { type: 'scheduled' })
      t.match(toScheduled.body.error, { code: 'VALIDATION_FAILED', details: { fields: [{ field: 'cron' }] } })
      const bigPatch = await as('PATCH', `/api/v1/scripts/${draft.body.id}`, { source: `export default {}\n//${'x'.repeat(100 * 1024)}` })
      t.equal(bigPatch.status, 413)
      const badSource = await as('PATCH', `/api/v1/scripts/${draft.body.id}`, { source: 'export default { run( }' })
      t.equal(badSource.body.error.code, 'SCRIPT_SYNTAX_ERROR')
      t.equal((await as('GET', `/api/v1/scripts/${draft.body.id}`)).body.version, 1, 'refused changes made no version')
      t.equal((await as('GET', '/api/v1/scripts?limit=0')).body.error.details.fields[0].field, 'limit')
      t.equal((await as('GET', '/api/v1/scripts?type=daemon')).body.error.details.fields[0].field, 'type')
      t.equal((await as('GET', '/api/v1/scripts/not-a-uuid')).status, 404)
    })

    t.test('the OpenAPI document describes the API from the same schemas', async (t) => {
      const doc = await api(isogate, 'GET', '/api/v1/openapi.json', { token: null })
      t.equal(doc.status, 200)
      t.equal(doc.body.openapi, '3.0.3')
      for (const path of ['/api/v1/scripts', '/api/v1/scripts/{id}', '/api/v1/scripts/{id}/versions', '/api/v1/scripts/{id}/rollback', '/api/v1/scripts/{id}/run', '/api/v1/executions', '/api/v1/executions/{id}', '/api/v1/audit', '/api/v1/tenants/{slug}/keys/{id}']) {
        t.ok(doc.body.paths[path], `${path} is documented`)
      }
      const body = doc.body.paths['/api/v1/scripts'].post.requestBody.content['application/json'].schema
      t.same(body.properties.type.enum, ['http', 'scheduled', 'event', 'oneoff', 'embedded'])
      t.equal(body.properties.name.maxLength, 100)
      t.ok(doc.body.paths['/api/v1/scripts/{id}'].patch && doc.body.paths['/api/v1/scripts/{id}'].delete)
      t.ok(doc.body.paths['/api/v1/executions'].get.parameters.some((p: any) => p.name === 'trigger' && p.in === 'query'))
    })
  })
}
