/**
 * The shadow-model attack model (src/model/privacy/shadow.ts, Shokri et al.
 * 2017): features, a logistic attack model that separates confident "in" from
 * diffuse "out" vectors (and is at chance when both come from one
 * distribution), the evaluation's AUC and advantages, and typed errors on
 * hostile input.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { attackFeatures, trainAttackModel, attackScores, evaluateShadowAttack } from '../../src/model/privacy/shadow.ts'
import { maxAdvantageUnderDp } from '../../src/model/privacy/membership.ts'
import { seededRng, type Rng } from '../../src/util/rng.ts'

/** n probability vectors over `classes`, the true label getting mass ~ `peak` (plus noise). */
function vectors(n: number, classes: number, peak: number, rng: Rng): { probs: Float64Array, labels: Uint8Array } {
  const probs = new Float64Array(n * classes)
  const labels = new Uint8Array(n)
  for (let e = 0; e < n; e++) {
    const y = Math.floor(rng.nextFloat() * classes)
    labels[e] = y
    const p = Math.min(0.999, Math.max(0.001, peak + 0.2 * (rng.nextFloat() - 0.5)))
    let rest = 0
    const r = new Float64Array(classes)
    for (let k = 0; k < classes; k++) if (k !== y) { r[k] = rng.nextFloat() + 1e-3; rest += r[k]! }
    for (let k = 0; k < classes; k++) probs[e * classes + k] = k === y ? p : (1 - p) * r[k]! / rest
  }
  return { probs, labels }
}

describe('privacy: shadow-model membership inference (attack model)', () => {
  it('features: sorted log-confidences then the true label\'s', () => {
    const f = attackFeatures(Float64Array.from([0.1, 0.7, 0.2]), Uint8Array.from([2]), 3)
    assert.equal(f.length, 4)
    assert.ok(Math.abs(f[0]! - Math.log(0.7)) < 1e-9 && Math.abs(f[1]! - Math.log(0.2)) < 1e-9 && Math.abs(f[2]! - Math.log(0.1)) < 1e-9)
    assert.ok(Math.abs(f[3]! - Math.log(0.2)) < 1e-9)
  })

  it('separates confident members from less confident non-members, and is at chance on one distribution', () => {
    const rng = seededRng('shadow-test')
    const C = 10
    const inS = vectors(400, C, 0.95, rng)
    const outS = vectors(400, C, 0.6, rng)
    const m = trainAttackModel(attackFeatures(inS.probs, inS.labels, C), attackFeatures(outS.probs, outS.labels, C), C + 1)
    const memT = vectors(300, C, 0.95, rng)
    const nonT = vectors(300, C, 0.6, rng)
    const r = evaluateShadowAttack(m, attackFeatures(memT.probs, memT.labels, C), attackFeatures(nonT.probs, nonT.labels, C))
    assert.ok(r.auc > 0.95, `auc ${r.auc}`)
    assert.ok(r.advantage > 0.8 && r.bestAdvantage >= r.advantage, `${r.advantage} ${r.bestAdvantage}`)
    // Same distribution for members and non-members: AUC about 1/2, advantage about 0.
    const a = vectors(500, C, 0.8, rng)
    const b = vectors(500, C, 0.8, rng)
    const z = evaluateShadowAttack(m, attackFeatures(a.probs, a.labels, C), attackFeatures(b.probs, b.labels, C))
    assert.ok(Math.abs(z.auc - 0.5) < 0.06, `auc ${z.auc}`)
    assert.ok(Math.abs(z.advantage) < 0.1, `adv ${z.advantage}`)
  })

  it('scores are probabilities; training is deterministic', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), (seed) => {
      const rng = seededRng(seed)
      const a = vectors(20, 3, 0.9, rng)
      const b = vectors(20, 3, 0.5, rng)
      const fa = attackFeatures(a.probs, a.labels, 3)
      const fb = attackFeatures(b.probs, b.labels, 3)
      const m1 = trainAttackModel(fa, fb, 4, { steps: 50 })
      const m2 = trainAttackModel(fa, fb, 4, { steps: 50 })
      assert.deepEqual(m1.weights, m2.weights)
      for (const s of attackScores(m1, fa)) assert.ok(s >= 0 && s <= 1)
    }), { numRuns: 25 })
  })

  it('the DP bound beside it: (e^eps - 1 + 2 delta)/(e^eps + 1) at or below Yeom\'s e^eps - 1', () => {
    for (const eps of [0.1, 0.5, 1, 2, 8]) assert.ok(maxAdvantageUnderDp(eps, 1e-5) <= Math.exp(eps) - 1 + 1e-5)
    assert.ok(Math.abs(maxAdvantageUnderDp(1, 0) - Math.tanh(0.5)) < 1e-12)
  })

  it('hostile inputs: typed errors, never a hang', () => {
    const ok = (f: () => unknown): void => { assert.throws(f, (e: Error) => e.name === 'InvalidPrivacyParameterError') }
    ok(() => attackFeatures(new Float64Array(5), new Uint8Array(2), 3))
    ok(() => attackFeatures(Float64Array.from([Number.NaN, 0.5]), Uint8Array.from([0]), 2))
    ok(() => attackFeatures(Float64Array.from([0.5, 0.5]), Uint8Array.from([7]), 2))
    ok(() => attackFeatures(new Float64Array(2), new Uint8Array(1), 1))
    ok(() => trainAttackModel(new Float64Array(0), new Float64Array(4), 4))
    ok(() => trainAttackModel(new Float64Array(5), new Float64Array(4), 4))
    ok(() => trainAttackModel(Float64Array.from([Infinity, 0, 0, 0]), new Float64Array(4), 4))
    ok(() => trainAttackModel(new Float64Array(4), new Float64Array(4), 4, { steps: 1e9 }))
    ok(() => trainAttackModel(new Float64Array(4), new Float64Array(4), 4, { lr: Number.NaN }))
    const m = trainAttackModel(Float64Array.from([1, 2]), Float64Array.from([0, 0]), 2, { steps: 5 })
    ok(() => attackScores(m, new Float64Array(3)))
    ok(() => evaluateShadowAttack(m, new Float64Array(0), new Float64Array(2)))
  })
})
