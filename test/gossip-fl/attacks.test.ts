/**
 * Attack library: each attack's defining property, the norm budget, determinism
 * under a seed, label flipping, and hostile inputs.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng, gaussian } from '../../src/util/rng.ts'
import { distance, dot, l2Norm, meanOf, squaredDistance } from '../../src/gossip-fl/aggregation/index.ts'
import {
  alie, alieZMax, attackNames, flipLabel, flipLabels, flipOneHot, freeRiding, gaussianAttack, getAttack,
  inverseNormalCdf, ipm, isAttackName, meanAndStd, minMax, minSum, modelReplacement, optimizedPerturbation,
  resolveMinMaxParams, runAttack, signFlip
} from '../../src/gossip-fl/attacks/index.ts'
import type { AttackInput, AttackName } from '../../src/gossip-fl/attacks/index.ts'

const v = (...xs: number[]): Float32Array => Float32Array.from(xs)

function randomVectors(seed: string, n: number, d: number, shift = 0.5, scale = 1): Float32Array[] {
  const rng = seededRng(seed)
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => shift + gaussian(rng) * scale))
}

function throwsNamed(fn: () => unknown, name: string, label = ''): void {
  assert.throws(fn, (err: Error) => {
    assert.equal(err.name, name, `${label} expected ${name}, got ${err.name}: ${err.message}`)
    return true
  })
}

const RUNS = { numRuns: 100, seed: 5 }
const honestArb = (maxH: number, maxD: number) => fc.record({ h: fc.integer({ min: 2, max: maxH }), d: fc.integer({ min: 1, max: maxD }) })
  .chain(({ h, d }) => fc.array(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: d, maxLength: d }), { minLength: h, maxLength: h }))
  .map((rows) => rows.map((r) => Float32Array.from(r)))

describe('gossip-fl/attacks: standard values', () => {
  it('inverse normal CDF matches reference quantiles (Acklam 2003, rel. error < 1.15e-9)', () => {
    const cases: Array<[number, number]> = [
      [0.5, 0], [0.975, 1.959963984540054], [0.025, -1.959963984540054], [0.8413447460685429, 1],
      [0.68, 0.4676987991145084], [0.96, 1.7506860712521692], [1e-10, -6.361340902404056], [0.999, 3.090232306167813]
    ]
    for (const [p, z] of cases) assert.ok(Math.abs(inverseNormalCdf(p) - z) <= 2e-9 * Math.max(1, Math.abs(z)), `p=${p}: ${inverseNormalCdf(p)} vs ${z}`)
    throwsNamed(() => inverseNormalCdf(0), 'InvalidParametersError')
    throwsNamed(() => inverseNormalCdf(1), 'InvalidParametersError')
  })
  it('ALIE z_max from n and f (Baruch et al. 2019): s = floor(n/2 + 1) - f, z = Φ^-1((n - s)/n)', () => {
    assert.ok(Math.abs(alieZMax(25, 5) - 0.4676987991145084) < 1e-8) // s = 8, q = 17/25
    assert.ok(Math.abs(alieZMax(50, 24) - 1.7506860712521692) < 1e-8) // s = 2, q = 48/50
    throwsNamed(() => alieZMax(10, 6), 'InvalidParametersError') // s <= 0: attackers are a majority
  })
})

describe('gossip-fl/attacks: defining properties', () => {
  it('sign flip negates the honest mean, or each attacker\'s own update', () => {
    const honest = [v(1, 2), v(3, 4)]
    assert.deepEqual(signFlip({ honest, count: 2 }), [v(-2, -3), v(-2, -3)])
    assert.deepEqual(signFlip({ honest, count: 3, own: [v(1, -1), v(0, 5)] }, { base: 'own', scale: 2 }), [v(-2, 2), v(-0, -10), v(-2, 2)])
  })

  it('IPM: the inner product with the honest mean is negative (fast-check)', () => {
    fc.assert(fc.property(honestArb(12, 8), fc.double({ min: 0.01, max: 100, noNaN: true }), fc.option(fc.double({ min: 0.1, max: 10, noNaN: true })), (honest, epsilon, bound) => {
      const m = meanOf(honest)
      fc.pre(l2Norm(m) > 1e-6)
      const budget = bound === null ? {} : { normBound: bound, useFullBudget: true }
      const out = ipm({ honest, count: 3 }, { epsilon, ...budget })
      return out.length === 3 && out.every((x) => dot(x, m) < 0)
    }), RUNS)
  })

  it('ALIE stays within z standard deviations of the honest mean per coordinate (fast-check)', () => {
    fc.assert(fc.property(honestArb(15, 8), fc.integer({ min: 1, max: 6 }), (honest, count) => {
      const n = honest.length + count
      fc.pre(Math.floor(n / 2 + 1) - count > 0)
      const z = alieZMax(n, count)
      const { mean, std } = meanAndStd(honest)
      const out = alie({ honest, count })
      return out.length === count && out.every((x) => x.every((xj, j) => Math.abs(xj - mean[j]) <= z * std[j] * (1 + 1e-6) + 1e-6))
    }), RUNS)
  })

  it('ALIE sends exactly mean - z·std (sample std), identical for every attacker', () => {
    const honest = [v(0, 10), v(2, 10), v(4, 10)] // mean (2, 10), std (2, 0)
    const out = alie({ honest, count: 2 }, { z: 1.5 })
    assert.deepEqual(out, [v(-1, 10), v(-1, 10)])
  })

  it('min-max: farthest distance to an honest update <= the honest maximum pairwise distance (fast-check)', () => {
    fc.assert(fc.property(honestArb(10, 6), fc.constantFrom('unit-vector', 'std', 'sign'), (honest, perturbation) => {
      const [mal] = minMax({ honest, count: 1 }, { perturbation: perturbation as 'std' })
      let pair = 0
      for (const a of honest) for (const b of honest) pair = Math.max(pair, distance(a, b))
      let far = 0
      for (const x of honest) far = Math.max(far, distance(mal, x))
      return far <= pair * (1 + 1e-9) + 1e-12
    }), RUNS)
  })

  it('min-sum: sum of squared distances <= the largest honest one (fast-check)', () => {
    fc.assert(fc.property(honestArb(10, 6), fc.constantFrom('unit-vector', 'std', 'sign'), (honest, perturbation) => {
      const [mal] = minSum({ honest, count: 1 }, { perturbation: perturbation as 'std' })
      let worst = 0
      for (const a of honest) worst = Math.max(worst, honest.reduce((s, b) => s + squaredDistance(a, b), 0))
      const mine = honest.reduce((s, b) => s + squaredDistance(mal, b), 0)
      return mine <= worst * (1 + 1e-9) + 1e-12
    }), RUNS)
  })

  it('min-max pushes as far as its condition allows: γ > 0 and a slightly larger γ breaks the condition', () => {
    const honest = randomVectors('minmax-max', 20, 200)
    const p = resolveMinMaxParams({ perturbation: 'unit-vector' })
    const { update, gamma } = optimizedPerturbation('min-max', { honest, count: 1 }, p)
    assert.ok(gamma > 0.5 && gamma < 19, `gamma ${gamma}`)
    let pair = 0
    for (const a of honest) for (const b of honest) pair = Math.max(pair, distance(a, b))
    const m = meanOf(honest)
    const u = m.map((x) => x / l2Norm(m))
    const beyond = m.map((x, j) => x - (gamma + 1e-3) * u[j])
    assert.ok(Math.max(...honest.map((x) => distance(beyond, x))) > pair)
    assert.ok(Math.max(...honest.map((x) => distance(update, x))) <= pair * (1 + 1e-9))
  })

  it('min-max under a clipping budget that bounds the honest norms keeps its guarantee', () => {
    fc.assert(fc.property(honestArb(8, 5), fc.double({ min: 0.05, max: 2, noNaN: true }), (raw, frac) => {
      const cap = Math.max(...raw.map(l2Norm)) + 1e-3
      const C = cap * (1 + frac)
      const [mal] = minMax({ honest: raw, count: 1 }, { normBound: C })
      let pair = 0
      for (const a of raw) for (const b of raw) pair = Math.max(pair, distance(a, b))
      return l2Norm(mal) <= C && Math.max(...raw.map((x) => distance(mal, x))) <= pair * (1 + 1e-9) + 1e-12
    }), RUNS)
  })

  it('model replacement scales the attacker-trained update by n (Bagdasaryan et al. 2020)', () => {
    const honest = randomVectors('mr', 9, 4)
    const own = [v(0.5, 0, -1, 2)]
    const [mal] = modelReplacement({ honest, count: 1, own })
    assert.deepEqual(mal, v(5, 0, -10, 20)) // n = 9 + 1
    const [constrained] = modelReplacement({ honest, count: 1, own }, { normBound: 1, useFullBudget: true })
    assert.ok(l2Norm(constrained) <= 1 && l2Norm(constrained) > 1 - 1e-6)
    assert.ok(dot(constrained, own[0]) > 0, 'same direction')
  })

  it('free riding: zero, stale and disguised updates', () => {
    const honest = randomVectors('fr', 4, 50)
    const previous = randomVectors('fr-prev', 1, 50)[0]
    assert.ok(freeRiding({ honest, count: 2 }, undefined, seededRng(1)).every((x) => l2Norm(x) === 0))
    assert.deepEqual(freeRiding({ honest, count: 1, previous }, { mode: 'stale' }, seededRng(1))[0], previous)
    const disguised = freeRiding({ honest, count: 1, previous }, { mode: 'stale', noiseStd: 0.01 }, seededRng(1))[0]
    assert.notDeepEqual(disguised, previous)
    assert.ok(distance(disguised, previous) < 0.01 * Math.sqrt(50) * 3)
  })

  it('Gaussian updates have the requested mean and standard deviation', () => {
    const honest = [new Float32Array(100000).fill(1)]
    const [x] = gaussianAttack({ honest, count: 1 }, { std: 3, center: 'honest-mean' }, seededRng('g'))
    let s = 0
    let s2 = 0
    for (const t of x) { s += t; s2 += t * t }
    const mean = s / x.length
    assert.ok(Math.abs(mean - 1) < 0.05, `mean ${mean}`)
    assert.ok(Math.abs(Math.sqrt(s2 / x.length - mean * mean) - 3) < 0.05)
  })
})

describe('gossip-fl/attacks: norm budget, determinism, registry', () => {
  const honest = randomVectors('budget', 12, 300, 0.5, 2)
  const input: AttackInput = { honest, count: 4, own: randomVectors('own', 2, 300, 0, 5), previous: randomVectors('prev', 1, 300, 1, 3)[0] }
  const perAttack: Record<AttackName, object> = {
    'sign-flip': {},
    'gaussian': {},
    'alie': {},
    'ipm': { epsilon: 50 },
    'min-max': {},
    'min-sum': {},
    'model-replacement': {},
    'free-riding': { mode: 'stale', noiseStd: 1 }
  }

  it('registry lists every attack with a citation; unknown names are typed errors', () => {
    assert.deepEqual(attackNames().sort(), Object.keys(perAttack).sort())
    for (const name of attackNames()) {
      assert.equal(getAttack(name).name, name)
      assert.ok(getAttack(name).citation.length > 10)
    }
    assert.equal(isAttackName('label-flip'), false)
    throwsNamed(() => getAttack('nope'), 'UnknownStrategyError')
    throwsNamed(() => runAttack('constructor' as AttackName, input, undefined, seededRng(1)), 'UnknownStrategyError')
  })

  for (const C of [0.5, 3, 40]) {
    it(`every attack respects the norm bound C = ${C}, and useFullBudget uses exactly C`, () => {
      for (const name of attackNames()) {
        const clipped = runAttack(name, input, { ...perAttack[name], normBound: C } as never, seededRng(name))
        assert.equal(clipped.length, 4, name)
        for (const x of clipped) assert.ok(l2Norm(x) <= C, `${name}: ${l2Norm(x)} > ${C}`)
        const full = runAttack(name, input, { ...perAttack[name], normBound: C, useFullBudget: true } as never, seededRng(name))
        for (const x of full) assert.ok(l2Norm(x) <= C && l2Norm(x) >= C * (1 - 1e-6), `${name}: ${l2Norm(x)} vs ${C}`)
      }
    })
  }

  it('same seed, same bytes; inputs are never mutated; outputs are independent arrays', () => {
    const snapshot = honest.map((x) => x.slice())
    for (const name of attackNames()) {
      const a = runAttack(name, input, perAttack[name] as never, seededRng('det'))
      const b = runAttack(name, input, perAttack[name] as never, seededRng('det'))
      assert.deepEqual(a.map((x) => Buffer.from(x.buffer)), b.map((x) => Buffer.from(x.buffer)), name)
      if (a.length > 1) assert.notEqual(a[0].buffer, a[1].buffer, `${name} aliases its outputs`)
    }
    honest.forEach((x, i) => assert.deepEqual(x, snapshot[i]))
    const g1 = runAttack('gaussian', input, {}, seededRng(1))
    const g2 = runAttack('gaussian', input, {}, seededRng(2))
    assert.notDeepEqual(g1[0], g2[0])
  })

  it('count 0 gives no updates', () => {
    for (const name of attackNames()) assert.deepEqual(runAttack(name, { ...input, count: 0 }, perAttack[name] as never, seededRng(0)), [])
  })
})

describe('gossip-fl/attacks: label flip (data side)', () => {
  it('reverse maps y -> 9 - y on ten classes, keeps the array type', () => {
    assert.equal(flipLabel(0), 9)
    assert.equal(flipLabel(7), 2)
    const labels = Uint8Array.from([0, 1, 2, 9, 5])
    const out = flipLabels(labels)
    assert.ok(out instanceof Uint8Array)
    assert.deepEqual(Array.from(out), [9, 8, 7, 0, 4])
    assert.deepEqual(Array.from(labels), [0, 1, 2, 9, 5])
    assert.deepEqual(flipLabels([0, 2], { numClasses: 3 }), [2, 0])
  })
  it('targeted maps source -> target only', () => {
    assert.deepEqual(Array.from(flipLabels(Int32Array.from([1, 7, 3, 7]), { mode: 'targeted', source: 7, target: 1 })), [1, 1, 3, 1])
  })
  it('one-hot rows are permuted the same way', () => {
    const oh = Float32Array.from([1, 0, 0, 0, 0, 1]) // classes 0 and 2 of 3
    assert.deepEqual(Array.from(flipOneHot(oh, { numClasses: 3 })), [0, 0, 1, 1, 0, 0])
    throwsNamed(() => flipOneHot(Float32Array.from([0.5, 0.5, 0]), { numClasses: 3 }), 'AttackInputError')
    throwsNamed(() => flipOneHot(Float32Array.from([1, 0]), { numClasses: 3 }), 'AttackInputError')
  })
  it('bad labels and parameters are typed errors', () => {
    throwsNamed(() => flipLabel(10), 'AttackInputError')
    throwsNamed(() => flipLabel(-1), 'AttackInputError')
    throwsNamed(() => flipLabel(1.5), 'AttackInputError')
    throwsNamed(() => flipLabels([0, Number.NaN]), 'AttackInputError')
    throwsNamed(() => flipLabel(1, { numClasses: 1 }), 'InvalidParametersError')
    throwsNamed(() => flipLabel(1, { mode: 'targeted' }), 'InvalidParametersError')
    throwsNamed(() => flipLabel(1, { mode: 'targeted', source: 1, target: 10 }), 'InvalidParametersError')
    throwsNamed(() => flipLabel(1, { mode: 'shuffle' as 'reverse' }), 'InvalidParametersError')
  })
})

describe('gossip-fl/attacks: hostile inputs give typed errors', () => {
  const good = randomVectors('hostile', 5, 8)
  it('malformed honest updates, counts and side inputs are AttackInputError', () => {
    const bad: Array<[string, unknown]> = [
      ['no honest', { honest: [], count: 1 }],
      ['mismatched lengths', { honest: [v(1, 2), v(1)], count: 1 }],
      ['NaN', { honest: [v(1, Number.NaN)], count: 1 }],
      ['Infinity', { honest: [v(Infinity, 1)], count: 1 }],
      ['not typed', { honest: [[1, 2]], count: 1 }],
      ['negative count', { honest: good, count: -1 }],
      ['fractional count', { honest: good, count: 1.5 }],
      ['huge count', { honest: good, count: 1e9 }],
      ['string count', { honest: good, count: '3' }],
      ['null input', null],
      ['own wrong length', { honest: good, count: 1, own: [v(1)] }],
      ['own NaN', { honest: good, count: 1, own: [new Float32Array(8).fill(Number.NaN)] }],
      ['previous wrong length', { honest: good, count: 1, previous: v(1) }],
      ['previous NaN', { honest: good, count: 1, previous: new Float32Array(8).fill(Number.NaN) }]
    ]
    for (const name of attackNames()) {
      for (const [what, inp] of bad) throwsNamed(() => runAttack(name, inp as AttackInput, undefined, seededRng(0)), 'AttackInputError', `${name} / ${what}:`)
    }
    throwsNamed(() => minMax({ honest: new Array(2049).fill(good[0]), count: 1 }), 'AttackInputError')
    throwsNamed(() => minSum({ honest: new Array(2049).fill(good[0]), count: 1 }), 'AttackInputError')
    throwsNamed(() => modelReplacement({ honest: good, count: 1 }), 'AttackInputError')
    throwsNamed(() => signFlip({ honest: good, count: 1 }, { base: 'own' }), 'AttackInputError')
    throwsNamed(() => freeRiding({ honest: good, count: 1 }, { mode: 'stale' }, seededRng(0)), 'AttackInputError')
  })
  it('wrong parameters are InvalidParametersError', () => {
    const input = { honest: good, count: 2, own: good, previous: good[0] }
    const bad: Array<[AttackName, object]> = [
      ['ipm', { epsilon: 0 }], ['ipm', { epsilon: Number.NaN }], ['ipm', { eps: 1 }],
      ['alie', { z: -1 }], ['alie', { n: 0 }], ['alie', { n: 2.5 }],
      ['gaussian', { std: -1 }], ['gaussian', { center: 'median' }],
      ['sign-flip', { scale: 0 }], ['sign-flip', { base: 'x' }],
      ['min-max', { perturbation: 'random' }], ['min-max', { gammaInit: 0 }], ['min-sum', { tolerance: 0 }], ['min-sum', { maxSteps: 0 }],
      ['model-replacement', { scale: -2 }],
      ['free-riding', { mode: 'lazy' }], ['free-riding', { noiseStd: -1 }],
      ['ipm', { normBound: -1 }], ['ipm', { normBound: Infinity }], ['ipm', { useFullBudget: true }], ['ipm', { useFullBudget: 'yes' }]
    ]
    for (const [name, params] of bad) throwsNamed(() => runAttack(name, input, params as never, seededRng(0)), 'InvalidParametersError', `${name} ${JSON.stringify(params)}:`)
    throwsNamed(() => alie({ honest: good, count: 6 }), 'InvalidParametersError') // z_max undefined: attackers a majority
  })
})
