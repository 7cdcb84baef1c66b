/**
 * Loss-threshold membership inference (Yeom et al. 2018) on synthetic losses with
 * known answers:
 * - members ~ N(0, 1), non-members ~ N(mu, 1): AUC = Phi(mu / sqrt 2) (difference of
 *   two independent normals), best advantage = 2 Phi(mu / 2) - 1 (equal variances:
 *   the likelihood ratio is monotone, optimal threshold mu/2).
 * - members ~ Exp(rate a), non-members ~ Exp(rate b): AUC = P(X_a < X_b) = a / (a + b).
 * - hand-computed small cases.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  membershipAuc, maxMembershipAdvantage, advantageAtThreshold, evaluateMembershipInference, maxAdvantageUnderDp
} from '../../src/model/privacy/membership.ts'
import { erfc } from '../../src/model/privacy/logmath.ts'
import { seededRng, gaussian, type Rng } from '../../src/util/rng.ts'

const Phi = (x: number): number => 0.5 * erfc(-x / Math.SQRT2)

function normals(rng: Rng, n: number, mean: number): Float64Array {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = mean + gaussian(rng)
  return out
}

function exponentials(rng: Rng, n: number, rate: number): Float64Array {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = -Math.log(1 - rng.nextFloat()) / rate
  return out
}

describe('model/privacy/membership: loss-threshold attack', function () {
  this.timeout(60000)

  it('hand-computed case: members [1,2,3], non-members [2,4] -> AUC 0.75, best advantage 0.5 at tau = 3', () => {
    assert.equal(membershipAuc([1, 2, 3], [2, 4]), 0.75)
    const best = maxMembershipAdvantage([3, 1, 2], [4, 2])
    assert.deepEqual(best, { threshold: 3, tpr: 1, fpr: 0.5, advantage: 0.5 })
    assert.deepEqual(advantageAtThreshold([1, 2, 3], [2, 4], 1), { threshold: 1, tpr: 1 / 3, fpr: 0, advantage: 1 / 3 })
    // Yeom's threshold = mean member loss = 2: TPR 2/3, FPR 1/2.
    const rep = evaluateMembershipInference([1, 2, 3], [2, 4])
    assert.equal(rep.yeom.threshold, 2)
    assert.ok(Math.abs(rep.yeom.advantage - (2 / 3 - 1 / 2)) < 1e-15)
  })

  it('separable and identical sets: AUC 1 / advantage 1; AUC 0.5 / advantage 0', () => {
    assert.equal(membershipAuc([0.1, 0.2], [0.3, 0.9, 5]), 1)
    assert.equal(maxMembershipAdvantage([0.1, 0.2], [0.3, 0.9, 5]).advantage, 1)
    assert.equal(membershipAuc([1, 1, 2], [1, 1, 2]), 0.5)
    assert.equal(maxMembershipAdvantage([1, 1, 2], [1, 1, 2]).advantage, 0)
    assert.equal(membershipAuc([3, 4], [1, 2]), 0)
  })

  it('Gaussian losses: AUC = Phi(mu/sqrt2) and advantage = 2 Phi(mu/2) - 1 within sampling error', () => {
    const rng = seededRng('privacy-membership-gauss')
    const n = 20000
    for (const mu of [0, 0.5, 1, 2]) {
      const members = normals(rng, n, 0)
      const nonMembers = normals(rng, n, mu)
      const rep = evaluateMembershipInference(members, nonMembers)
      const auc = Phi(mu / Math.SQRT2)
      const adv = 2 * Phi(mu / 2) - 1
      // Standard error of the AUC with n = 20,000 per side is < 0.003; of the KS-type max, ~1/sqrt(n) ~ 0.007 plus its upward bias.
      assert.ok(Math.abs(rep.auc - auc) < 0.012, `mu ${mu}: auc ${rep.auc} vs ${auc}`)
      assert.ok(Math.abs(rep.best.advantage - adv) < 0.025, `mu ${mu}: adv ${rep.best.advantage} vs ${adv}`)
      if (mu > 0.5) assert.ok(Math.abs(rep.best.threshold - mu / 2) < 0.25, `threshold ${rep.best.threshold}`)
    }
  })

  it('exponential losses: AUC = a / (a + b)', () => {
    const rng = seededRng('privacy-membership-exp')
    for (const [a, b] of [[2, 1], [1, 1], [5, 1]] as const) {
      const auc = membershipAuc(exponentials(rng, 20000, a), exponentials(rng, 20000, b))
      assert.ok(Math.abs(auc - a / (a + b)) < 0.012, `rates ${a}, ${b}: ${auc}`)
    }
  })

  it('properties: AUC in [0,1], swapping roles gives 1 - AUC, invariant to increasing maps; advantage >= AUC - 1/2', () => {
    // Losses on a 1/8 grid so that the increasing map below keeps every strict inequality in floating point.
    const losses = fc.array(fc.integer({ min: -800, max: 800 }).map((k) => k / 8), { minLength: 1, maxLength: 60 })
    fc.assert(fc.property(losses, losses, (m, n) => {
      const auc = membershipAuc(m, n)
      assert.ok(auc >= 0 && auc <= 1)
      assert.ok(Math.abs(membershipAuc(n, m) - (1 - auc)) < 1e-12)
      const f = (x: number): number => Math.exp(x / 100) * 3 + 1
      assert.ok(Math.abs(membershipAuc(m.map(f), n.map(f)) - auc) < 1e-12)
      const best = maxMembershipAdvantage(m, n)
      assert.ok(best.advantage >= 0 && best.advantage <= 1)
      assert.ok(best.advantage >= auc - 0.5 - 1e-12)
      // The reported threshold really attains the reported advantage.
      if (best.threshold !== -Infinity) assert.deepEqual(advantageAtThreshold(m, n, best.threshold), best)
    }), { numRuns: 200 })
  })

  it('AUC by sorting equals the quadratic pair count', () => {
    const small = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 })
    fc.assert(fc.property(small, small, (m, n) => {
      let s = 0
      for (const a of m) for (const b of n) s += a < b ? 1 : a === b ? 0.5 : 0
      assert.ok(Math.abs(membershipAuc(m, n) - s / (m.length * n.length)) < 1e-12)
    }), { numRuns: 200 })
  })

  it('maxAdvantageUnderDp = (e^eps - 1 + 2 delta)/(e^eps + 1); 0 for (0, 0); at most 1', () => {
    assert.equal(maxAdvantageUnderDp(0, 0), 0)
    assert.ok(Math.abs(maxAdvantageUnderDp(1, 1e-5) - (Math.E - 1 + 2e-5) / (Math.E + 1)) < 1e-15)
    assert.equal(maxAdvantageUnderDp(1000, 0), 1)
    assert.equal(maxAdvantageUnderDp(0, 1), 1)
    // Never below the pure-DP bound of Yeom et al. Thm 1 would allow, i.e. <= e^eps - 1.
    fc.assert(fc.property(fc.double({ min: 0, max: 20, noNaN: true }), (eps) => {
      assert.ok(maxAdvantageUnderDp(eps, 0) <= Math.expm1(eps) + 1e-15)
    }))
  })

  it('hostile inputs: typed errors', () => {
    const bad: Array<() => unknown> = [
      () => membershipAuc([], [1]), () => membershipAuc([1], []), () => membershipAuc([Number.NaN], [1]),
      () => membershipAuc([1], [-Infinity]), () => membershipAuc(null as unknown as number[], [1]),
      () => membershipAuc({ length: 2 ** 40 } as ArrayLike<number>, [1]), () => membershipAuc(['1' as unknown as number], [1]),
      () => advantageAtThreshold([1], [2], Number.NaN), () => maxMembershipAdvantage([1], [Number.NaN]),
      () => maxAdvantageUnderDp(-1, 0), () => maxAdvantageUnderDp(1, 2), () => maxAdvantageUnderDp(Number.NaN, 0)
    ]
    for (const f of bad) assert.throws(f, (e: Error) => e.name === 'InvalidPrivacyParameterError', String(f))
    // +Infinity losses are legal (-log 0).
    assert.equal(membershipAuc([1], [Infinity]), 1)
  })
})
