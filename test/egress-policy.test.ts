import t from 'tap'
import { EgressError, EgressPolicy, hostMatches, resolveTarget, type HostLookup } from '../src/host/index.js'
import { REFUSED_LITERALS } from './helpers/egress.js'

// Decisions only: nothing in this file resolves a real name or opens a connection.

const PUBLIC_ADDRESSES = ['93.184.216.34', '2606:4700:4700::1111', '8.8.8.8', '1.1.1.1', '64:ff9b::808:808', '2002:808:808::1', '::ffff:8.8.8.8']

t.test('literal non-public addresses in every encoding are refused with the reason', async (t) => {
  const policy = new EgressPolicy()
  for (const { url: text, reason } of REFUSED_LITERALS) {
    const decision = policy.checkUrl('tenant-1', new URL(text))
    t.equal(decision.allowed, false, `${text} is refused`)
    if (!decision.allowed) t.match(decision.reason, reason, `${text}: ${decision.reason}`)
  }
})

t.test('a zone-scoped IPv6 literal is not even a URL', async (t) => {
  t.throws(() => new URL('http://[fe80::1%25eth0]/'), TypeError)
})

t.test('public addresses are allowed, decided without connecting', async (t) => {
  const policy = new EgressPolicy()
  for (const address of PUBLIC_ADDRESSES) t.same(policy.checkAddress(address), { allowed: true }, address)
  t.same(policy.checkUrl('tenant-1', new URL('http://93.184.216.34/')), { allowed: true })
  t.same(policy.checkUrl('tenant-1', new URL('https://[2606:4700:4700::1111]:8443/x')), { allowed: true })
  t.same(policy.checkUrl('tenant-1', new URL('https://api.example.com/')), { allowed: true }, 'a name is decided after resolution')

  const lookup: HostLookup = async () => [
    { address: '93.184.216.34', family: 4 },
    { address: '2606:4700:4700::1111', family: 6 },
  ]
  const target = await resolveTarget(policy, lookup, 'tenant-1', new URL('https://public.test/'))
  t.same(target.addresses, [
    { address: '93.184.216.34', family: 4 },
    { address: '2606:4700:4700::1111', family: 6 },
  ])
  t.equal(target.hostname, 'public.test')
})

t.test('a name is refused when any address it resolves to is refused, decided without connecting', async (t) => {
  const policy = new EgressPolicy()
  const cases: Array<[string[], RegExp]> = [
    [['127.0.0.1'], /evil\.test resolves to a refused address: 127\.0\.0\.1 is loopback/],
    [['93.184.216.34', '10.0.0.1'], /10\.0\.0\.1 is private/],
    [['2606:4700:4700::1111', '::ffff:169.254.169.254'], /169\.254\.169\.254 is cloud metadata/],
    [['93.184.216.34', 'not-an-address'], /"not-an-address" is not an IP address/],
  ]
  for (const [addresses, reason] of cases) {
    const lookup: HostLookup = async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
    await t.rejects(resolveTarget(policy, lookup, 'tenant-1', new URL('http://evil.test/')), { name: 'EgressError', code: 'EGRESS_DENIED', message: reason })
  }
})

t.test('only http and https are allowed', async (t) => {
  const policy = new EgressPolicy()
  for (const text of ['file:///etc/passwd', 'ftp://example.com/', 'data:text/plain,hi', 'javascript:alert(1)', 'ws://example.com/', 'gopher://example.com/']) {
    const decision = policy.checkUrl('tenant-1', new URL(text))
    t.equal(decision.allowed, false, text)
    if (!decision.allowed) t.match(decision.reason, /only http: and https: URLs may be fetched/, text)
  }
})

t.test('URLs with credentials and the Fetch standard\'s blocked ports are refused', async (t) => {
  const policy = new EgressPolicy()
  t.same(policy.checkUrl('tenant-1', new URL('http://user:pass@example.com/')), { allowed: false, reason: 'URLs with credentials are not allowed' })
  t.same(policy.checkUrl('tenant-1', new URL('http://example.com:25/')), { allowed: false, reason: 'port 25 is blocked' })
  t.same(policy.checkUrl('tenant-1', new URL('http://example.com:6667/')), { allowed: false, reason: 'port 6667 is blocked' })
  t.same(policy.checkUrl('tenant-1', new URL('http://example.com:8080/')), { allowed: true })
})

t.test('an operator-allowed range admits those addresses and nothing next to them', async (t) => {
  const policy = new EgressPolicy({ allowPrivateRanges: ['127.0.0.2/32', '10.1.0.0/16', 'fd12::/64', '::1'] })
  t.same(policy.checkAddress('127.0.0.2'), { allowed: true })
  t.same(policy.checkAddress('::ffff:127.0.0.2'), { allowed: true }, 'the IPv4-mapped form is the same address')
  t.same(policy.checkAddress('10.1.200.3'), { allowed: true })
  t.same(policy.checkAddress('fd12::5'), { allowed: true })
  t.same(policy.checkAddress('::1'), { allowed: true })
  t.same(policy.checkAddress('127.0.0.1'), { allowed: false, reason: '127.0.0.1 is loopback' })
  t.same(policy.checkAddress('127.0.0.3'), { allowed: false, reason: '127.0.0.3 is loopback' })
  t.same(policy.checkAddress('10.2.0.1'), { allowed: false, reason: '10.2.0.1 is private' })
  t.same(policy.checkAddress('0.0.0.0'), { allowed: false, reason: '0.0.0.0 is unspecified' })
})

t.test('a tenant allowlist admits only its hosts; other tenants may reach any public host', async (t) => {
  const lists: Record<string, string[]> = { acme: ['api.example.com', '*.example.net', '127.0.0.2'] }
  const policy = new EgressPolicy({ allowedHosts: (tenant) => lists[tenant] })
  const allowed = (tenant: string, url: string) => policy.checkUrl(tenant, new URL(url)).allowed
  t.equal(allowed('acme', 'https://api.example.com/v1'), true)
  t.equal(allowed('acme', 'https://API.Example.com./v1'), true, 'case and a trailing dot do not matter')
  t.equal(allowed('acme', 'https://a.b.example.net/'), true)
  t.equal(allowed('acme', 'https://example.net/'), false, '*.example.net does not include example.net')
  t.equal(allowed('acme', 'https://evil-example.net/'), false)
  t.equal(allowed('acme', 'https://api.example.com.evil.test/'), false)
  t.equal(allowed('acme', 'https://other.example.com/'), false)
  t.same(policy.checkUrl('acme', new URL('https://other.example.com/')), {
    allowed: false,
    reason: "other.example.com is not on this tenant's list of allowed hosts",
  })
  t.same(policy.checkUrl('acme', new URL('http://127.0.0.2/')), { allowed: false, reason: '127.0.0.2 is loopback' }, 'a listed host is still checked')
  t.equal(allowed('globex', 'https://other.example.com/'), true)
  t.equal(hostMatches('[::1]', '[::1]'), true)
})

t.test('the policy checks its options and names the field', async (t) => {
  t.throws(() => new EgressPolicy({ allowPrivateRanges: ['127.0.0.2/33'] }), { name: 'RangeError', message: /options\.allowPrivateRanges\[0\]/ })
  t.throws(() => new EgressPolicy({ allowPrivateRanges: [42 as unknown as string] }), { name: 'TypeError', message: /options\.allowPrivateRanges\[0\] must be a string/ })
  t.throws(() => new EgressPolicy({ allowPrivateRanges: '127.0.0.2/32' as unknown as string[] }), { name: 'TypeError', message: /options\.allowPrivateRanges/ })
  t.throws(() => new EgressPolicy({ allowedHosts: ['a.com'] as unknown as () => undefined }), { name: 'TypeError', message: /options\.allowedHosts/ })
})

t.test('an egress error copies into an isolate as name, message and code, the message led by the code', async (t) => {
  const error = new EgressError('EGRESS_DENIED', '127.0.0.1 is loopback')
  t.same(JSON.parse(JSON.stringify(error)), { name: 'EgressError', message: 'EGRESS_DENIED: 127.0.0.1 is loopback', code: 'EGRESS_DENIED' })
  t.equal(new EgressError('EGRESS_TIMEOUT').message, 'EGRESS_TIMEOUT: The outbound request timed out')
})

t.test('an operator-mapped host and port goes to its address without DNS; any other name, port or literal is still checked', async (t) => {
  const policy = new EgressPolicy({ resolve: ['mapped.test:443:127.0.0.1:8443', 'internal.test:80:[fd12::7]'] })
  const calls: string[] = []
  // A lookup that would answer loopback for every name: what the guard does with it is the point.
  const lookup: HostLookup = async (hostname) => {
    calls.push(hostname)
    return [{ address: '127.0.0.1', family: 4 }]
  }
  const mapped = await resolveTarget(policy, lookup, 'tenant-1', new URL('https://mapped.test/x'))
  t.same(mapped.addresses, [{ address: '127.0.0.1', family: 4 }])
  t.equal(mapped.connectPort, 8443, 'the connection goes to the mapped port')
  t.equal(mapped.hostname, 'mapped.test', 'the real name stays for Host, SNI and the certificate')
  t.same((await resolveTarget(policy, lookup, 'tenant-1', new URL('https://MAPPED.test./'))).addresses, [{ address: '127.0.0.1', family: 4 }], 'case and a trailing dot do not matter')
  const internal = await resolveTarget(policy, lookup, 'tenant-1', new URL('http://internal.test/'))
  t.same(internal.addresses, [{ address: 'fd12::7', family: 6 }])
  t.equal(internal.connectPort, 80, 'without a second port, the asked port')
  t.same(calls, [], 'a mapped name is never resolved')

  const refused = async (url: string, reason: RegExp): Promise<void> => {
    await t.rejects(resolveTarget(policy, lookup, 'tenant-1', new URL(url)), { code: 'EGRESS_DENIED', message: reason }, url)
  }
  await refused('https://mapped.test:8443/', /mapped\.test resolves to a refused address: 127\.0\.0\.1 is loopback/)
  await refused('http://mapped.test/', /127\.0\.0\.1 is loopback/)
  await refused('https://other.test/', /other\.test resolves to a refused address: 127\.0\.0\.1 is loopback/)
  await refused('https://sub.mapped.test/', /127\.0\.0\.1 is loopback/)
  await refused('https://127.0.0.1:8443/', /127\.0\.0\.1 is loopback/)
  await refused('http://[fd12::7]:80/', /is unique-local|fd12::7 is/)
  t.same(calls, ['mapped.test', 'mapped.test', 'other.test', 'sub.mapped.test'], 'another port or scheme of the mapped name is resolved and checked as usual')
  t.equal(policy.checkUrl('tenant-1', new URL('https://127.0.0.1:8443/')).allowed, false, 'the mapped address is not opened as a literal')
})

t.test('the host allowlist still applies to a mapped name, and malformed entries are refused by name', async (t) => {
  const policy = new EgressPolicy({ resolve: ['mapped.test:443:127.0.0.1'], allowedHosts: () => ['api.example.com'] })
  await t.rejects(resolveTarget(policy, async () => [], 'tenant-1', new URL('https://mapped.test/')), { code: 'EGRESS_DENIED', message: /not on this tenant's list/ })
  for (const [entry, message] of [
    ['mapped.test:443', /is not host:port:address\[:port\]/],
    ['*.mapped.test:443:127.0.0.1', /is not host:port:address/],
    ['mapped.test:0:127.0.0.1', /port 0 is not between 1 and 65535/],
    ['mapped.test:443:127.0.0.1:70000', /port 70000/],
    ['mapped.test:443:::1', /is not host:port:address|brackets/],
    ['mapped.test:443:[127.0.0.1]', /brackets/],
    ['mapped.test:443:999.0.0.1', /is not an IP address/],
    ['127.0.0.2:443:127.0.0.1', /only host names are mapped/],
  ] as const) {
    t.throws(() => new EgressPolicy({ resolve: [entry] }), { message }, entry)
  }
  t.throws(() => new EgressPolicy({ resolve: ['a.test:443:127.0.0.1', 'A.test:443:127.0.0.2'] }), { message: /a\.test:443 is mapped twice/ })
})
