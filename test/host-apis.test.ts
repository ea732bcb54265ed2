import t from 'tap'
import { api, call, deploy, startTestIsogate } from './helpers/isogate.js'

// Host APIs are answered in the gateway process; scripts run in runner processes. These tests
// go the whole way: data plane -> runner process -> worker thread -> isolate -> host call ->
// runner -> gateway -> back, on real sockets and real runners.

async function json(path: string, isogate: Awaited<ReturnType<typeof startTestIsogate>>, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await call(isogate, path, init)
  const text = await response.text()
  return { status: response.status, body: text === '' ? null : JSON.parse(text) }
}

t.test('host APIs through the runner processes', async (t) => {
  const isogate = await startTestIsogate(t)

  t.test('ctx.cache keeps a value between runs, per tenant, as a copy', async (t) => {
    const source = `export default {
      async fetch(request, env, ctx) {
        const url = new URL(request.url)
        if (request.method === 'POST') {
          const value = await request.json()
          await ctx.cache.set('k', value, { ttlSeconds: 60 })
          value.changed = true
          return Response.json({ stored: true })
        }
        if (url.searchParams.has('delete')) return Response.json({ deleted: await ctx.cache.delete('k') })
        return Response.json({ value: await ctx.cache.get('k') })
      },
    }`
    await deploy(isogate, 'cache-a', '/c', source)
    await deploy(isogate, 'cache-b', '/c', source)
    t.same((await json('/cache-a/c', isogate)).body, { value: null })
    t.same((await json('/cache-a/c', isogate, { method: 'POST', body: JSON.stringify({ n: 1, list: [1, 2] }) })).body, { stored: true })
    t.same((await json('/cache-a/c', isogate)).body, { value: { n: 1, list: [1, 2] } }, 'the value as stored, not the object changed after set')
    t.same((await json('/cache-b/c', isogate)).body, { value: null }, 'another tenant with the same key sees nothing')
    t.same((await json('/cache-a/c?delete', isogate)).body, { deleted: true })
    t.same((await json('/cache-a/c', isogate)).body, { value: null })
  })

  t.test("a host call the run never awaits still takes effect, from a run that finished in its synchronous first step too (the call reaches the host before the run ends)", async (t) => {
    await deploy(isogate, 'cache-unawaited', '/u', `export default {
      async fetch(request, env, ctx) {
        const n = new URL(request.url).searchParams.get('n')
        if (n !== null) {
          ctx.cache.set('last', Number(n))
          return new Response('set')
        }
        return Response.json({ last: await ctx.cache.get('last') })
      },
    }`)
    for (let n = 1; n <= 10; n++) {
      t.equal(await (await call(isogate, `/cache-unawaited/u?n=${n}`)).text(), 'set')
      let last: unknown = null
      // The set is on its way when the answer is: wait for it a little, no more.
      for (let i = 0; i < 50 && last !== n; i++) {
        last = (await json('/cache-unawaited/u', isogate)).body.last
        if (last !== n) await new Promise((resolve) => setTimeout(resolve, 10))
      }
      t.equal(last, n, `the unawaited set of ${n} was answered, not refused`)
    }
  })

  t.test('a host API refusal is an Error inside the script with its code; the run goes on', async (t) => {
    await deploy(isogate, 'cache-big', '/big', `export default {
      async fetch(request, env, ctx) {
        try {
          await ctx.cache.set('big', 'x'.repeat(2 * 1024 * 1024))
          return Response.json({ stored: true })
        } catch (error) {
          return Response.json({ name: error.name, code: error.code, message: error.message, isError: error instanceof Error })
        }
      },
    }`)
    const { status, body } = await json('/cache-big/big', isogate)
    t.equal(status, 200)
    t.equal(body.code, 'CACHE_VALUE_TOO_LARGE')
    t.equal(body.isError, true)
    t.match(body.message, /limit is 1048576/)
  })

  t.test('host calls count against the run\'s API-call limit', async (t) => {
    await deploy(isogate, 'cache-calls', '/calls', `export default {
      async fetch(request, env, ctx) {
        for (let i = 0; i < 10; i++) await ctx.cache.get('k' + i)
        return new Response('done')
      },
    }`, { limits: { apiCalls: 5 } })
    const { status, body } = await json('/cache-calls/calls', isogate)
    t.equal(status, 500)
    t.equal(body.error.code, 'SCRIPT_API_CALL_LIMIT')
  })

  t.test('ctx and its APIs are frozen: a script cannot replace them for later runs', async (t) => {
    await deploy(isogate, 'frozen', '/f', `export default {
      async fetch(request, env, ctx) {
        const attempts = {}
        for (const [name, change] of Object.entries({
          replaceApi: () => { ctx.cache.get = async () => 'hijacked' },
          addToCtx: () => { ctx.extra = 1 },
          replaceNamespace: () => { ctx.cache = {} },
          changeEnv: () => { env.NAME = 'changed' },
        })) {
          try { change(); attempts[name] = 'changed' } catch (error) { attempts[name] = error.constructor.name }
        }
        return Response.json({ attempts, value: await ctx.cache.get('absent'), frozen: Object.isFrozen(ctx) && Object.isFrozen(ctx.cache) && Object.isFrozen(env) })
      },
    }`)
    const first = await json('/frozen/f', isogate)
    t.same(first.body, { attempts: { replaceApi: 'TypeError', addToCtx: 'TypeError', replaceNamespace: 'TypeError', changeEnv: 'TypeError' }, value: null, frozen: true })
  })

  t.test('ctx.events.publish stores the event with the run as its cause and delivers it', async (t) => {
    await deploy(isogate, 'shop', '/order', `export default {
      async fetch(request, env, ctx) {
        const order = await request.json()
        const event = await ctx.events.publish('order.created', order)
        return Response.json(event)
      },
    }`)
    const listener = await api(isogate, 'POST', '/api/v1/scripts', {
      tenant: 'shop',
      body: {
        name: 'on-order',
        type: 'event',
        events: { types: ['order.*'] },
        source: `export default { async event(event, env, ctx) { await ctx.cache.set('last-order', event.payload); return { seen: event.payload.id } } }`,
      },
    })
    t.equal(listener.status, 201)
    await deploy(isogate, 'shop', '/last', `export default { async fetch(request, env, ctx) { return Response.json(await ctx.cache.get('last-order')) } }`)

    const published = await call(isogate, '/shop/order', { method: 'POST', body: JSON.stringify({ id: 42 }) })
    t.equal(published.status, 200)
    const event = (await published.json()) as { id: string; duplicate: boolean }
    t.match(event, { id: /^[0-9a-f-]{36}$/, duplicate: false })

    const deadline = Date.now() + 10_000
    let last: unknown = null
    while (Date.now() < deadline) {
      last = (await json('/shop/last', isogate)).body
      if (last !== null) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    t.same(last, { id: 42 }, 'the event script ran and saw the payload')

    const rows = await isogate.db.system((tx) => tx<Array<{ source: string; cause_execution_id: string | null; depth: number }>>`SELECT source, cause_execution_id, depth FROM events WHERE id = ${event.id}`)
    t.equal(rows[0]?.source, 'script')
    t.equal(rows[0]?.depth, 0)
    t.match(rows[0]?.cause_execution_id, /^[0-9a-f-]{36}$/, 'the publishing run is the cause')
  })

  t.test('ctx offers the host APIs the gateway answers, and nothing else', async (t) => {
    await deploy(isogate, 'nosuch', '/n', `export default {
      async fetch(request, env, ctx) {
        return Response.json({ nosuch: typeof ctx.nosuch, keys: Object.keys(ctx).sort() })
      },
    }`)
    const { body } = await json('/nosuch/n', isogate)
    t.equal(body.nosuch, 'undefined')
    t.ok(body.keys.includes('cache') && body.keys.includes('events') && body.keys.includes('logger'), `ctx has ${body.keys}`)
  })
})

t.test('ctx.db: documents per tenant, data-change events that event scripts react to', async (t) => {
  const isogate = await startTestIsogate(t)
  const store = `export default {
    async fetch(request, env, ctx) {
      const url = new URL(request.url)
      if (request.method === 'POST') {
        const id = await ctx.db.insert('orders', await request.json())
        return Response.json({ id, doc: await ctx.db.get('orders', id) })
      }
      const page = await ctx.db.query('orders', { where: { total: { $gte: Number(url.searchParams.get('min') ?? 0) } }, orderBy: '-total' })
      return Response.json(page.documents.map((d) => d.data))
    },
  }`
  await deploy(isogate, 'db-a', '/orders', store)
  await deploy(isogate, 'db-b', '/orders', store)

  t.test('insert, get and query through the isolate; tenants see only their own documents', async (t) => {
    const created = await json('/db-a/orders', isogate, { method: 'POST', body: JSON.stringify({ customer: 'c1', total: 30 }) })
    t.equal(created.status, 200)
    t.match(created.body, { id: /^[0-9a-f-]{36}$/, doc: { id: created.body.id, data: { customer: 'c1', total: 30 } } })
    await json('/db-a/orders', isogate, { method: 'POST', body: JSON.stringify({ customer: 'c2', total: 80 }) })
    await json('/db-b/orders', isogate, { method: 'POST', body: JSON.stringify({ customer: 'b', total: 999 }) })
    t.same((await json('/db-a/orders?min=0', isogate)).body, [{ customer: 'c2', total: 80 }, { customer: 'c1', total: 30 }])
    t.same((await json('/db-a/orders?min=50', isogate)).body, [{ customer: 'c2', total: 80 }])
    t.same((await json('/db-b/orders', isogate)).body, [{ customer: 'b', total: 999 }])
  })

  t.test('a bad query is an Error with DB_QUERY_INVALID inside the script', async (t) => {
    await deploy(isogate, 'db-a', '/bad', `export default { async fetch(request, env, ctx) {
      try { await ctx.db.query('orders', { where: { total: { $where: 'sleep(1)' } } }); return new Response('ran') }
      catch (error) { return Response.json({ code: error.code }) }
    } }`)
    t.same((await json('/db-a/bad', isogate)).body, { code: 'DB_QUERY_INVALID' })
  })

  t.test('the classic case: each new order adds to the customer total; past a threshold an event is raised', async (t) => {
    const totals = await api(isogate, 'POST', '/api/v1/scripts', {
      tenant: 'db-a',
      body: {
        name: 'customer-totals',
        type: 'event',
        events: { types: ['db.orders.created'] },
        source: `export default { async event(event, env, ctx) {
          const order = event.payload.record
          const found = await ctx.db.query('customers', { where: { name: order.customer }, limit: 1 })
          const customer = found.documents[0]
          const total = (customer?.data.total ?? 0) + order.total
          if (customer) await ctx.db.update('customers', customer.id, { total })
          else await ctx.db.insert('customers', { name: order.customer, total })
          if (total >= 100 && (customer?.data.total ?? 0) < 100) await ctx.events.publish('customer.vip', { name: order.customer, total })
          return { total }
        } }`,
      },
    })
    t.equal(totals.status, 201)
    const vip = await api(isogate, 'POST', '/api/v1/scripts', {
      tenant: 'db-a',
      body: { name: 'vip', type: 'event', events: { types: ['customer.vip'] }, source: `export default { async event(event, env, ctx) { await ctx.cache.set('vip', event.payload) } }` },
    })
    t.equal(vip.status, 201)
    await deploy(isogate, 'db-a', '/vip', `export default { async fetch(request, env, ctx) { return Response.json(await ctx.cache.get('vip')) } }`)

    // One order at a time: deliveries run concurrently (at least once, in no set order), and the
    // script's read-then-update of the customer is no transaction, so two orders handled at once
    // would both add to the same old total.
    const customerTotal = async (): Promise<number | undefined> => {
      const [row] = await isogate.db.system((tx) => tx<Array<{ data: { total: number } }>>`SELECT data FROM documents WHERE collection = 'customers' AND data->>'name' = 'dora'`)
      return row?.data.total
    }
    let expected = 0
    for (const total of [40, 50, 20]) {
      await json('/db-a/orders', isogate, { method: 'POST', body: JSON.stringify({ customer: 'dora', total }) })
      expected += total
      const until = Date.now() + 15_000
      while (Date.now() < until && (await customerTotal()) !== expected) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const deadline = Date.now() + 15_000
    let seen: unknown = null
    while (Date.now() < deadline && seen === null) {
      seen = (await json('/db-a/vip', isogate)).body
      if (seen === null) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    t.same(seen, { name: 'dora', total: 110 }, 'the vip event fired once the total passed 100')
    t.equal(await customerTotal(), 110)
  })
})

t.test('fetch and ctx.http go through the SSRF guard', async (t) => {
  const { createServer } = await import('node:http')
  const { createServer: createTcpServer } = await import('node:net')
  let canaryConnections = 0
  const canary = createTcpServer((socket) => {
    canaryConnections++
    socket.destroy()
  })
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve))
  t.teardown(() => canary.close())
  const canaryPort = (canary.address() as { port: number }).port
  const upstream = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (request.url === '/redirect') {
        response.writeHead(302, { location: `http://127.0.0.1:${canaryPort}/` }).end()
        return
      }
      response.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' })
      response.end(JSON.stringify({ method: request.method, path: request.url, type: request.headers['content-type'] ?? null, body: Buffer.concat(chunks).toString() }))
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.2', resolve))
  t.teardown(() => upstream.close())
  const base = `http://127.0.0.2:${(upstream.address() as { port: number }).port}`

  const isogate = await startTestIsogate(t, { egressAllowPrivate: ['127.0.0.2/32'] })
  await deploy(isogate, 'out', '/call', `export default {
    async fetch(request, env, ctx) {
      const target = new URL(request.url).searchParams.get('target')
      const results = {}
      const get = await fetch(target + '/plain')
      results.get = { status: get.status, ok: get.ok, header: get.headers.get('x-upstream'), url: get.url, body: await get.json() }
      const post = await ctx.http.post(target + '/json', { n: 1 })
      results.post = await post.json()
      results.form = await (await ctx.http.post(target + '/form', new URLSearchParams({ a: '1 2', b: 'é' }))).json()
      for (const [name, url] of Object.entries({ loopback: 'http://127.0.0.1:${canaryPort}/', decimal: 'http://2130706433:${canaryPort}/', redirect: target + '/redirect', metadata: 'http://169.254.169.254/latest/meta-data/' })) {
        try { await fetch(url); results[name] = 'fetched' } catch (error) { results[name] = error.code }
      }
      return Response.json(results)
    },
  }`)
  const { status, body } = await json(`/out/call?target=${encodeURIComponent(base)}`, isogate)
  t.equal(status, 200)
  t.same(body.get, { status: 201, ok: true, header: 'yes', url: `${base}/plain`, body: { method: 'GET', path: '/plain', type: null, body: '' } })
  t.same(body.post, { method: 'POST', path: '/json', type: 'application/json', body: '{"n":1}' })
  t.same(body.form, { method: 'POST', path: '/form', type: 'application/x-www-form-urlencoded;charset=UTF-8', body: 'a=1+2&b=%C3%A9' }, 'URLSearchParams is sent as a form, not as JSON')
  t.equal(body.loopback, 'EGRESS_DENIED')
  t.equal(body.decimal, 'EGRESS_DENIED')
  t.equal(body.redirect, 'EGRESS_DENIED')
  t.equal(body.metadata, 'EGRESS_DENIED')
  t.equal(canaryConnections, 0, 'the loopback canary saw no connection')
})
