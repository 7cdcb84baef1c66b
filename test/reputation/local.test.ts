import assert from 'node:assert/strict'
import fc from 'fast-check'
import { LocalReputation, DEFAULT_LOCAL_REPUTATION, resolveLocalReputationParams } from '../../src/reputation/local.ts'

const MIN = 60_000

describe('reputation/local: decaying edge penalties with a ban', () => {
  it('a penalty halves every half-life (closed form)', () => {
    const r = new LocalReputation({ halfLifeMs: 1000, banThreshold: 1e9 })
    r.charge('a', 'gossip-reject', 0)
    assert.equal(r.score('a', 0), 1)
    assert.ok(Math.abs(r.score('a', 1000) - 0.5) < 1e-12)
    assert.ok(Math.abs(r.score('a', 3000) - 0.125) < 1e-12)
    assert.equal(r.score('nobody', 0), 0)
  })

  it('defaults: an occasional malformed message never bans; a burst does, once, for banMs', () => {
    const r = new LocalReputation()
    // one malformed frame (weight 2) every 5 minutes for 10 hours: the score stays near 2 / (1 - 2^-1) = 4
    for (let k = 0; k < 120; k++) assert.equal(r.charge('slow', 'malformed-frame', k * 5 * MIN), false)
    assert.equal(r.isBanned('slow', 120 * 5 * MIN), false)
    assert.ok(r.score('slow', 120 * 5 * MIN) < 5)
    const t0 = 1e9
    const started: number[] = []
    for (let k = 0; k < 30; k++) if (r.charge('burst', 'gossip-reject', t0 + k * 1000)) started.push(k)
    assert.equal(started.length, 1, 'the ban starts once')
    // 16 at weight 1, less the decay over the burst (half-life 5 min, one per second): the 17th offence
    assert.equal(started[0], 16)
    assert.equal(r.isBanned('burst', t0 + 30_000), true)
    assert.equal(r.isBanned('burst', t0 + started[0]! * 1000 + DEFAULT_LOCAL_REPUTATION.banMs + 1), false)
  })

  it('weights: oversized frames count 4, unknown kinds the default weight; prototype keys are not weights', () => {
    const r = new LocalReputation({ banThreshold: 1e9 })
    r.charge('a', 'oversized-frame', 0)
    r.charge('b', 'some-new-kind', 0)
    r.charge('c', '__proto__', 0)
    r.charge('d', 'constructor', 0)
    assert.equal(r.score('a', 0), 4)
    assert.equal(r.score('b', 0), 1)
    assert.equal(r.score('c', 0), 1)
    assert.equal(r.score('d', 0), 1)
  })

  it('property: more offences never lower the score; the score never exceeds the undecayed sum', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('malformed-frame', 'gossip-reject', 'oversized-frame'), fc.integer({ min: 0, max: 10 * MIN })), { maxLength: 60 }), (offences) => {
      const r = new LocalReputation({ banThreshold: 1e12 })
      const sorted = [...offences].sort((a, b) => a[1] - b[1])
      let sum = 0
      for (const [kind, t] of sorted) {
        const before = r.score('p', t)
        r.charge('p', kind, t)
        sum += r.params.weights[kind] ?? 1
        const after = r.score('p', t)
        assert.ok(after > before)
        assert.ok(after <= sum + 1e-9)
      }
    }), { numRuns: 100 })
  })

  it('memory is bounded: a flood of identities keeps maxPeers and never forgets a running ban', () => {
    const r = new LocalReputation({ maxPeers: 50, banThreshold: 2.5 })
    for (let k = 0; k < 3; k++) r.charge('villain', 'gossip-reject', k)
    assert.equal(r.isBanned('villain', 10), true)
    for (let i = 0; i < 5000; i++) r.charge(`sybil-${i}`, 'gossip-reject', 100 + i)
    assert.equal(r.size, 50)
    assert.equal(r.isBanned('villain', 6000), true)
    assert.equal(r.snapshot(6000)[0]!.peer, 'villain')
  })

  it('hostile parameters and inputs: typed errors, never NaN scores', () => {
    for (const bad of [{ halfLifeMs: 0 }, { banThreshold: -1 }, { banMs: NaN }, { maxPeers: 1.5 }, { maxPeers: Infinity }, { defaultWeight: -1 }, { weights: { x: NaN } }, { halfLifeMs: '5' as unknown as number }]) {
      assert.throws(() => resolveLocalReputationParams(bad), (e: Error) => e.name === 'InvalidParametersError', JSON.stringify(bad))
    }
    assert.throws(() => resolveLocalReputationParams(null as unknown as object), (e: Error) => e.name === 'InvalidParametersError')
    const r = new LocalReputation()
    assert.throws(() => r.charge('a', 'x', NaN), (e: Error) => e.name === 'InvalidParametersError')
    assert.equal(r.charge('', 'x', 0), false)
    assert.equal(r.charge(42 as unknown as string, 'x', 0), false)
    assert.equal(r.size, 0)
    r.charge('a', 'x', 1000)
    assert.equal(r.score('a', 0), 1, 'a clock that goes back does not inflate the score')
  })
})
