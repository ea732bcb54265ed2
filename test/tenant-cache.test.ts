import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TenantCache } from '../src/host/tenant-cache.js'

t.test('entries expire after their ttlSeconds', async (t) => {
  const cache = new TenantCache()
  cache.set('a', 'short', 'gone soon', { ttlSeconds: 0.05 })
  cache.set('a', 'long', 'stays', { ttlSeconds: 60 })
  t.equal(cache.get('a', 'short'), 'gone soon')
  await sleep(120)
  t.equal(cache.get('a', 'short'), null)
  t.equal(cache.get('a', 'long'), 'stays')
})

t.test('a tenant over its byte budget loses its least recently used entries, not another tenant\'s', async (t) => {
  const cache = new TenantCache({ maxBytesPerTenant: 10_000, maxValueBytes: 4_000 })
  cache.set('other', 'keep', 'x'.repeat(3_000))
  for (let i = 0; i < 3; i++) cache.set('a', `k${i}`, 'x'.repeat(3_000))
  cache.get('a', 'k0') // k0 is now the most recently used
  cache.set('a', 'k3', 'x'.repeat(3_000))
  t.ok(cache.bytes('a') <= 10_000, `a holds ${cache.bytes('a')} bytes`)
  t.equal(cache.get('a', 'k1'), null, 'the least recently used entry went')
  t.equal(typeof cache.get('a', 'k0'), 'string')
  t.equal(typeof cache.get('a', 'k3'), 'string')
  t.equal(typeof cache.get('other', 'keep'), 'string', 'the other tenant kept its entry')
})

t.test('bad keys, values and TTLs are refused with stable codes', async (t) => {
  const cache = new TenantCache({ maxBytesPerTenant: 10_000, maxValueBytes: 1_000, maxTtlSeconds: 3600 })
  t.throws(() => cache.set('a', '', 1), { code: 'CACHE_INVALID' })
  t.throws(() => cache.set('a', 'k'.repeat(513), 1), { code: 'CACHE_INVALID' })
  t.throws(() => cache.get('a', 42), { code: 'CACHE_INVALID' })
  t.throws(() => cache.set('a', 'k', 'x'.repeat(2_000)), { code: 'CACHE_VALUE_TOO_LARGE' })
  t.throws(() => cache.set('a', 'k', 1, { ttlSeconds: 0 }), { code: 'CACHE_INVALID' })
  t.throws(() => cache.set('a', 'k', 1, { ttlSeconds: 7200 }), { code: 'CACHE_INVALID' })
  t.throws(() => cache.set('a', 'k', undefined), { code: 'CACHE_INVALID' })
  t.throws(() => cache.set('a', 'k', () => 1), { code: 'CACHE_INVALID' })
  t.equal(cache.bytes('a'), 0, 'nothing was stored')
})

t.test('values are copies: changing what was stored or read does not change the entry', async (t) => {
  const cache = new TenantCache()
  const value = { list: [1, 2], when: new Date(0), bytes: new Uint8Array([1, 2, 3]) }
  cache.set('a', 'k', value)
  value.list.push(3)
  const read = cache.get('a', 'k') as typeof value
  read.list.push(4)
  t.same(cache.get('a', 'k'), { list: [1, 2], when: new Date(0), bytes: new Uint8Array([1, 2, 3]) })
})

t.test('options are checked', async (t) => {
  t.throws(() => new TenantCache({ maxBytesPerTenant: 0 }), RangeError)
  t.throws(() => new TenantCache({ maxValueBytes: 1.5 }), TypeError)
  t.throws(() => new TenantCache({ maxBytesPerTenant: 10, maxValueBytes: 100 }), /maxValueBytes/)
})
