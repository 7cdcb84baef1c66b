/**
 * Step budgets (src/model/privacy/budget.ts) and per-peer DP-SGD plans
 * (src/model/privacy/peer-plan.ts). The defining property of maxStepsForEpsilon:
 * epsilon(T) <= target < epsilon(T + 1), checked against computeDpSgdPrivacy,
 * the function the harness reports epsilon with.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { maxStepsForEpsilon } from '../../../src/model/privacy/budget.ts'
import { peerBatchSize, dpSgdPeerEpsilons, planPeerDpSgd } from '../../../src/model/privacy/peer-plan.ts'
import { computeRdp, DP_SGD_ORDERS } from '../../../src/model/privacy/rdp.ts'
import { epsilonFromRdp } from '../../../src/model/privacy/conversion.ts'
import { computeDpSgdPrivacy } from '../../../src/model/privacy/dpsgd.ts'

const isParamError = (e: Error): boolean => e.name === 'InvalidPrivacyParameterError'
const eps = (q: number, z: number, t: number): number => t === 0 ? 0 : epsilonFromRdp(DP_SGD_ORDERS, computeRdp(q, z, t, DP_SGD_ORDERS), 1e-5).epsilon

describe('model/privacy/budget: maxStepsForEpsilon', function () {
  this.timeout(60000)

  it('the archived README table: q = 16/473, z = 2 allows 610 steps at epsilon 2 (611 exceeds it)', () => {
    const b = maxStepsForEpsilon({ samplingRate: 16 / 473, noiseMultiplier: 2, epsilon: 2, delta: 1e-5 })
    assert.equal(b.steps, 610)
    assert.ok(b.epsilon <= 2 && b.epsilon > 1.99)
    // and computeDpSgdPrivacy (what the harness prints) agrees on both sides
    assert.ok(computeDpSgdPrivacy({ examples: 473, batchSize: 16, noiseMultiplier: 2, epochs: 610 * 16 / 473, delta: 1e-5 }).epsilon <= 2)
    assert.ok(computeDpSgdPrivacy({ examples: 473, batchSize: 16, noiseMultiplier: 2, epochs: 611 * 16 / 473, delta: 1e-5 }).epsilon > 2)
  })

  it('property: epsilon(T) <= target < epsilon(T + 1)', () => {
    fc.assert(fc.property(
      fc.double({ min: 0.001, max: 0.5, noNaN: true }), fc.double({ min: 0.6, max: 8, noNaN: true }), fc.double({ min: 0.2, max: 8, noNaN: true }),
      (q, z, target) => {
        const b = maxStepsForEpsilon({ samplingRate: q, noiseMultiplier: z, epsilon: target, delta: 1e-5 })
        assert.ok(Number.isSafeInteger(b.steps) && b.steps >= 0)
        assert.ok(eps(q, z, b.steps) <= target)
        assert.ok(eps(q, z, b.steps + 1) > target)
        assert.equal(b.epsilon, eps(q, z, b.steps))
      }), { numRuns: 25, seed: 5 })
  })

  it('monotone: more noise or a smaller q never allows fewer steps', () => {
    const s = (q: number, z: number): number => maxStepsForEpsilon({ samplingRate: q, noiseMultiplier: z, epsilon: 2, delta: 1e-5 }).steps
    assert.ok(s(0.05, 3) <= s(0.05, 4))
    assert.ok(s(0.1, 4) <= s(0.05, 4))
    assert.ok(s(0.01, 4) > 30000) // Abadi et al.'s q = 0.01, sigma = 4 at epsilon 2
  })

  it('zero steps when one step already exceeds the target', () => {
    const b = maxStepsForEpsilon({ samplingRate: 1, noiseMultiplier: 0.3, epsilon: 0.5, delta: 1e-5 })
    assert.deepEqual(b, { steps: 0, epsilon: 0 })
  })

  it('hostile inputs give InvalidPrivacyParameterError', () => {
    const ok = { samplingRate: 0.1, noiseMultiplier: 2, epsilon: 2, delta: 1e-5 }
    for (const bad of [
      { ...ok, samplingRate: 0 }, { ...ok, samplingRate: 1.5 }, { ...ok, samplingRate: Number.NaN },
      { ...ok, noiseMultiplier: 0 }, { ...ok, noiseMultiplier: Infinity }, { ...ok, epsilon: -1 }, { ...ok, epsilon: Number.NaN },
      { ...ok, delta: 0 }, { ...ok, delta: 1 }, { ...ok, orders: [] }, { ...ok, orders: [Number.NaN] }
    ]) assert.throws(() => maxStepsForEpsilon(bad as never), isParamError)
    assert.throws(() => maxStepsForEpsilon(null as never), isParamError)
    assert.throws(() => maxStepsForEpsilon('x' as never), isParamError)
  })

  it('a huge budget is capped, not a hang', () => {
    const t = Date.now()
    const b = maxStepsForEpsilon({ samplingRate: 1e-9, noiseMultiplier: 50, epsilon: 50, delta: 1e-5 })
    assert.ok(b.steps <= 1e12 && b.steps > 0)
    assert.ok(Date.now() - t < 5000)
  })
})

describe('model/privacy/peer-plan: per-peer DP-SGD', function () {
  this.timeout(60000)

  it('peerBatchSize rounds q n, stays in [1, n]', () => {
    assert.equal(peerBatchSize(0.1, 6000), 600)
    assert.equal(peerBatchSize(0.1, 473), 47)
    assert.equal(peerBatchSize(0.001, 10), 1)
    assert.equal(peerBatchSize(1, 7), 7)
    fc.assert(fc.property(fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), (q, n) => {
      const b = peerBatchSize(q, n)
      assert.ok(Number.isInteger(b) && b >= 1 && b <= n)
      assert.ok(Math.abs(b - q * n) <= 0.5 || b === 1)
    }), { numRuns: 200, seed: 3 })
    for (const [q, n] of [[0, 10], [2, 10], [Number.NaN, 10], [0.1, 0], [0.1, 1.5], [0.1, -3], [0.1, Number.NaN]] as Array<[number, number]>) {
      assert.throws(() => peerBatchSize(q, n), isParamError)
    }
  })

  it('dpSgdPeerEpsilons: each peer as computeDpSgdPrivacy on its own (n_i, B_i); equal q gives equal epsilon', () => {
    const e = dpSgdPeerEpsilons({ shardSizes: [473, 2000, 6000], batchSizes: [16, 16, 16], noiseMultiplier: 2, steps: 610, delta: 1e-5 })
    assert.ok(e[0]! <= 2 && e[0]! > 1.99)
    assert.ok(e[1]! < e[0]! && e[2]! < e[1]!)
    const same = dpSgdPeerEpsilons({ shardSizes: [1000, 3000], batchSizes: [100, 300], noiseMultiplier: 3, steps: 200, delta: 1e-5 })
    assert.ok(Math.abs(same[0]! - same[1]!) < 1e-9)
    assert.throws(() => dpSgdPeerEpsilons({ shardSizes: [10], batchSizes: [1, 2], noiseMultiplier: 1, steps: 1, delta: 1e-5 }), isParamError)
    assert.throws(() => dpSgdPeerEpsilons({ shardSizes: [10], batchSizes: [11], noiseMultiplier: 1, steps: 1, delta: 1e-5 }), isParamError)
    assert.throws(() => dpSgdPeerEpsilons({ shardSizes: [10], batchSizes: [1], noiseMultiplier: 1, steps: 0, delta: 1e-5 }), isParamError)
    assert.throws(() => dpSgdPeerEpsilons({ shardSizes: [], batchSizes: [], noiseMultiplier: 1, steps: 1, delta: 1e-5 }), isParamError)
    assert.throws(() => dpSgdPeerEpsilons({ shardSizes: [0], batchSizes: [1], noiseMultiplier: 1, steps: 1, delta: 1e-5 }), isParamError)
  })

  it('planPeerDpSgd: whole rounds, every peer at or below the target, one more round would exceed it', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 200, max: 8000 }), { minLength: 1, maxLength: 6 }), fc.double({ min: 0.01, max: 0.2, noNaN: true }),
      fc.double({ min: 1, max: 6, noNaN: true }), fc.integer({ min: 1, max: 20 }),
      (sizes, q, z, local) => {
        let p
        try { p = planPeerDpSgd({ shardSizes: sizes, samplingRate: q, noiseMultiplier: z, epsilon: 2, delta: 1e-5, localSteps: local }) } catch (e) {
          assert.ok(isParamError(e as Error)); return
        }
        assert.equal(p.steps, p.rounds * local)
        assert.ok(p.epsilons.every(e => e <= 2))
        assert.equal(p.maxEpsilon, Math.max(...p.epsilons))
        const next = dpSgdPeerEpsilons({ shardSizes: sizes, batchSizes: p.batchSizes, noiseMultiplier: z, steps: p.steps + local, delta: 1e-5 })
        assert.ok(Math.max(...next) > 2)
      }), { numRuns: 15, seed: 11 })
  })

  it('planPeerDpSgd: a common batch is set by the smallest shard (the archived 25-peer run)', () => {
    const p = planPeerDpSgd({ shardSizes: [473, 2213, 5379], batchSize: 16, noiseMultiplier: 2, epsilon: 2, delta: 1e-5, localSteps: 10 })
    assert.equal(p.rounds, 61)
    assert.deepEqual(p.batchSizes, [16, 16, 16])
    assert.throws(() => planPeerDpSgd({ shardSizes: [100], batchSize: 16, samplingRate: 0.1, noiseMultiplier: 2, epsilon: 2, delta: 1e-5, localSteps: 10 }), isParamError)
    assert.throws(() => planPeerDpSgd({ shardSizes: [100], noiseMultiplier: 2, epsilon: 2, delta: 1e-5, localSteps: 10 }), isParamError)
    assert.throws(() => planPeerDpSgd({ shardSizes: [100], batchSize: 100, noiseMultiplier: 0.5, epsilon: 0.1, delta: 1e-5, localSteps: 10 }), isParamError)
    assert.throws(() => planPeerDpSgd({ shardSizes: [100], batchSize: 10, noiseMultiplier: 2, epsilon: 2, delta: 1e-5, localSteps: 0 }), isParamError)
  })
})
