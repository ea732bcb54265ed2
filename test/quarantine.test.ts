import t from 'tap'
import { Quarantine } from '../runner/index.js'

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let time = start
  return { now: () => time, advance: (ms) => void (time += ms) }
}

t.test('a tenant in flight on K crashes within the window is quarantined for the cool-down', async (t) => {
  const time = clock()
  const quarantine = new Quarantine({ crashes: 3, windowMs: 60_000, coolDownMs: 300_000, now: time.now })
  t.same(quarantine.recordCrash(['culprit', 'bystander']), [])
  time.advance(10_000)
  t.same(quarantine.recordCrash(['culprit']), [])
  t.equal(quarantine.until('culprit'), null, 'two crashes are not enough')
  time.advance(10_000)
  t.same(quarantine.recordCrash(['culprit', 'other']), ['culprit'])
  t.equal(quarantine.until('culprit'), time.now() + 300_000)
  t.equal(quarantine.until('bystander'), null, 'a tenant that shared one crash is not quarantined')
  t.equal(quarantine.size, 1)
  time.advance(299_999)
  t.not(quarantine.until('culprit'), null)
  time.advance(1)
  t.equal(quarantine.until('culprit'), null, 'the cool-down ends')
  t.equal(quarantine.size, 0)
})

t.test('crashes older than the window are forgotten', async (t) => {
  const time = clock()
  const quarantine = new Quarantine({ crashes: 2, windowMs: 1000, coolDownMs: 5000, now: time.now })
  quarantine.recordCrash(['a'])
  time.advance(1000)
  t.same(quarantine.recordCrash(['a']), [], 'the first crash left the window')
  time.advance(999)
  t.same(quarantine.recordCrash(['a']), ['a'])
})

t.test('options are checked and named', async (t) => {
  t.throws(() => new Quarantine({ crashes: 0 }), { name: 'RangeError', message: /options\.crashes/ })
  t.throws(() => new Quarantine({ windowMs: 1.5 }), { name: 'TypeError', message: /options\.windowMs/ })
  t.throws(() => new Quarantine({ coolDownMs: -1 }), { name: 'RangeError', message: /options\.coolDownMs/ })
})
