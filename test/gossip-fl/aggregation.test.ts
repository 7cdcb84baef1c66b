/**
 * Aggregation rules: hand-checked small cases, agreement with straightforward
 * reference implementations, state handling, determinism and hostile inputs.
 * Robustness properties (fast-check) are in aggregation-properties.test.ts.
 */
import assert from 'node:assert/strict'
import { seededRng, gaussian } from '../../src/util/rng.ts'
import {
  aggregate, getRule, ruleNames, isRuleName,
  mean, coordinateMedian, trimmedMean, krum, multiKrum, krumScores, geometricMedian, centeredClipping,
  distancesToAggregate, relativeDistancesToAggregate,
  l2Norm, clipToNorm, scaleToNorm, dot, distance, meanOf, MAX_INPUTS
} from '../../src/gossip-fl/aggregation/index.ts'
import type { RuleName, RuleState } from '../../src/gossip-fl/aggregation/index.ts'

const v = (...xs: number[]): Float32Array => Float32Array.from(xs)
const arr = (x: ArrayLike<number>): number[] => Array.from(x)

function randomInputs(seed: string, n: number, d: number, scale = 1): Float32Array[] {
  const rng = seededRng(seed)
  const out: Float32Array[] = []
  for (let i = 0; i < n; i++) {
    const x = new Float32Array(d)
    for (let j = 0; j < d; j++) x[j] = gaussian(rng) * scale
    out.push(x)
  }
  return out
}

/** Reference order statistics: sort each coordinate with Array.prototype.sort. */
function column(inputs: readonly Float32Array[], j: number): number[] {
  return inputs.map((x) => x[j]).sort((a, b) => a - b)
}

function throwsNamed(fn: () => unknown, name: string): void {
  assert.throws(fn, (err: Error) => {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`)
    return true
  })
}

describe('gossip-fl/aggregation: vector maths', () => {
  it('norms, dot, distance on a 3-4-5 triangle', () => {
    assert.equal(l2Norm(v(3, 4)), 5)
    assert.equal(dot(v(1, 2, 3), v(4, 5, 6)), 32)
    assert.equal(distance(v(1, 1), v(4, 5)), 5)
  })
  it('clipToNorm leaves short vectors alone and shortens long ones to at most C', () => {
    assert.deepEqual(arr(clipToNorm(v(0.3, 0.4), 1)), arr(v(0.3, 0.4)))
    const c = clipToNorm(v(3, 4), 1)
    assert.ok(Math.abs(c[0] - 0.6) < 1e-6 && Math.abs(c[1] - 0.8) < 1e-6)
    assert.ok(l2Norm(c) <= 1)
    const big = randomInputs('clip', 1, 10007, 1000)[0]
    for (const C of [1e-3, 0.1, 1, 7.3]) assert.ok(l2Norm(clipToNorm(big, C)) <= C)
  })
  it('scaleToNorm rescales to exactly C (never above), zero stays zero', () => {
    const s = scaleToNorm(v(0.03, 0.04), 10)
    assert.ok(l2Norm(s) <= 10 && l2Norm(s) > 10 * (1 - 1e-6))
    assert.deepEqual(arr(scaleToNorm(v(0, 0), 3)), [0, 0])
    throwsNamed(() => clipToNorm(v(1), -1), 'InvalidParametersError')
    throwsNamed(() => scaleToNorm(v(1), Number.NaN), 'InvalidParametersError')
  })
  it('meanOf agrees with the mean rule bit for bit', () => {
    const xs = randomInputs('meanOf', 7, 333)
    assert.deepEqual(meanOf(xs), mean(xs).aggregate)
  })
})

describe('gossip-fl/aggregation: hand-checked rules', () => {
  it('mean', () => {
    assert.deepEqual(arr(mean([v(1, 2), v(3, 4)]).aggregate), [2, 3])
    // float64 accumulation, one rounding: (0.1f + 0.2f) / 2 rounded once to float32.
    assert.equal(mean([v(0.1), v(0.2)]).aggregate[0], Math.fround((Math.fround(0.1) + Math.fround(0.2)) / 2))
  })
  it('coordinate median, odd and even n', () => {
    assert.deepEqual(arr(coordinateMedian([v(1, 5), v(3, -1), v(2, 100)]).aggregate), [2, 5])
    assert.deepEqual(arr(coordinateMedian([v(1), v(2), v(10), v(20)]).aggregate), [6])
    assert.deepEqual(arr(coordinateMedian([v(7, -3)]).aggregate), [7, -3])
  })
  it('trimmed mean by count and by fraction', () => {
    const xs = [v(1), v(2), v(3), v(4), v(100)]
    assert.deepEqual(arr(trimmedMean(xs, undefined, { trimCount: 1 }).aggregate), [3])
    assert.deepEqual(arr(trimmedMean(xs, undefined, { trimFraction: 0.2 }).aggregate), [3])
    assert.deepEqual(arr(trimmedMean(xs, undefined, { trimCount: 2 }).aggregate), [3])
    assert.deepEqual(arr(trimmedMean(xs, undefined, { trimCount: 0 }).aggregate), [22])
    // trimCount overrides trimFraction.
    assert.deepEqual(arr(trimmedMean(xs, undefined, { trimFraction: 0.4, trimCount: 0 }).aggregate), [22])
  })
  it('trimmed mean: a fixed trimCount larger than the inputs allow trims (n - 1) / 2 per side (liveness when groups are lost)', () => {
    // A charter's trimCount 5 was set for 12 groups; exclusion left 10, then 4 (even: the two middle values).
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000].map(x => v(x))
    assert.deepEqual(arr(trimmedMean(ten, undefined, { trimCount: 5 }).aggregate), [5.5])
    assert.deepEqual(arr(trimmedMean([v(1), v(2), v(3), v(1000)], undefined, { trimCount: 5 }).aggregate), [2.5])
    assert.deepEqual(arr(trimmedMean([v(7)], undefined, { trimCount: 3 }).aggregate), [7])
  })
  it('Krum picks the most central point; Multi-Krum averages the m best (Blanchard et al. 2017)', () => {
    // 1-D points 0, 1, 2, 3, 100 with f = 1: each score sums the n - f - 2 = 2 nearest
    // squared distances: 0 -> 1+4 = 5, 1 -> 1+1 = 2, 2 -> 1+1 = 2, 3 -> 1+4 = 5.
    const xs = [v(0), v(1), v(2), v(3), v(100)]
    assert.deepEqual(arr(krumScores(xs, 1)).slice(0, 4), [5, 2, 2, 5])
    const k = krum(xs, undefined, { f: 1 })
    assert.deepEqual(k.selected, [1]) // tie 1 vs 2 goes to the lower index
    assert.deepEqual(arr(k.aggregate), [1])
    const mk = multiKrum(xs, undefined, { f: 1, m: 2 })
    assert.deepEqual(mk.selected, [1, 2])
    assert.deepEqual(arr(mk.aggregate), [1.5])
    // defaults: f = floor((5 - 3) / 2) = 1, m = n - f = 4 -> the four honest points.
    assert.deepEqual(multiKrum(xs).selected, [1, 2, 0, 3])
    assert.deepEqual(arr(multiKrum(xs).aggregate), [1.5])
  })
  it('geometric median: 1-D median, symmetric configurations, far outlier', () => {
    const p = { maxIterations: 2000, tolerance: 0, smoothing: 1e-9 }
    assert.ok(Math.abs(geometricMedian([v(0), v(1), v(10)], undefined, p).aggregate[0] - 1) < 1e-3)
    // Square corners: the centre (already the starting mean, a fixed point).
    assert.deepEqual(arr(geometricMedian([v(0, 0), v(1, 0), v(0, 1), v(1, 1)]).aggregate), [0.5, 0.5])
    // Square corners plus one far point on the diagonal: the unit vectors from the
    // median to the five points sum to zero at (t, t) with t = 1 + 1/sqrt(3),
    // wherever the far point is (the outlier pulls with unit force, not distance).
    for (const far of [10, 1e3, 1e6]) {
      const g = geometricMedian([v(0, 0), v(2, 0), v(0, 2), v(2, 2), v(far, far)], undefined, p).aggregate
      const t = 1 + 1 / Math.sqrt(3)
      assert.ok(Math.hypot(g[0] - t, g[1] - t) < 1e-3, `far ${far}: got ${arr(g)}`)
    }
  })
  it('geometric median stops early when the objective settles', () => {
    const r = geometricMedian(randomInputs('gm-stop', 9, 50), undefined, { maxIterations: 1000, tolerance: 1e-6 })
    assert.ok(r.iterations !== undefined && r.iterations < 1000 && r.iterations >= 1)
  })
  it('centered clipping: clip steps from the previous center, state carries on', () => {
    // One input (3,4), tau = 1, start at 0: each iteration moves 1 toward it along (0.6, 0.8).
    const r1 = centeredClipping([v(3, 4)], undefined, { tau: 1, iterations: 2 })
    assert.ok(Math.abs(r1.aggregate[0] - 1.2) < 1e-6 && Math.abs(r1.aggregate[1] - 1.6) < 1e-6)
    assert.equal(r1.state.rule, 'centered-clipping')
    assert.deepEqual(r1.state.rule === 'centered-clipping' ? r1.state.center : undefined, r1.aggregate)
    const r2 = centeredClipping([v(3, 4)], r1.state, { tau: 1, iterations: 1 })
    assert.ok(Math.abs(r2.aggregate[0] - 1.8) < 1e-6 && Math.abs(r2.aggregate[1] - 2.4) < 1e-6)
    // Inputs within tau of the center: no clipping, one step lands on the mean.
    const c = centeredClipping([v(1, 2), v(3, 4)], { rule: 'centered-clipping', center: v(2, 3) }, { tau: 10 })
    assert.deepEqual(arr(c.aggregate), [2, 3])
  })
  it('centered clipping with a huge tau and no state equals the mean bit for bit', () => {
    const xs = randomInputs('cc-mean', 11, 1000)
    assert.deepEqual(centeredClipping(xs, undefined, { tau: 1e30 }).aggregate, mean(xs).aggregate)
  })
})

describe('gossip-fl/aggregation: agreement with reference implementations', () => {
  it('coordinate median equals sort-per-coordinate for n = 1..40 across block boundaries', () => {
    for (let n = 1; n <= 40; n++) {
      const d = n % 3 === 0 ? 4096 + 37 : 61
      const xs = randomInputs(`med-${n}`, n, d)
      const got = coordinateMedian(xs).aggregate
      for (let j = 0; j < d; j++) {
        const c = column(xs, j)
        const want = n % 2 === 1 ? c[(n - 1) / 2] : Math.fround((c[n / 2 - 1] + c[n / 2]) / 2)
        assert.equal(got[j], want, `n=${n} j=${j}`)
      }
    }
  })
  it('median and trimmed mean for many inputs: largest networks and the column-sort fallback agree with the reference', () => {
    for (const n of [64, 100, 255, 256, 257, 300]) {
      const xs = randomInputs(`big-${n}`, n, 37)
      const med = coordinateMedian(xs).aggregate
      const b = Math.floor(n / 5)
      const tm = trimmedMean(xs, undefined, { trimCount: b }).aggregate
      for (let j = 0; j < 37; j++) {
        const c = column(xs, j)
        const want = n % 2 === 1 ? c[(n - 1) / 2] : Math.fround((c[n / 2 - 1] + c[n / 2]) / 2)
        assert.equal(med[j], want, `median n=${n} j=${j}`)
        let s = 0
        for (const x of c.slice(b, n - b)) s += x
        assert.equal(tm[j], Math.fround(s / (n - 2 * b)), `trimmed n=${n} j=${j}`)
      }
      xs[n - 1][36] = Number.NaN
      throwsNamed(() => coordinateMedian(xs), 'AggregationInputError')
    }
  })
  it('median with ties and duplicates (quantized values)', () => {
    const rng = seededRng('ties')
    const xs = Array.from({ length: 21 }, () => Float32Array.from({ length: 500 }, () => (rng.nextU32() % 5) - 2))
    const got = coordinateMedian(xs).aggregate
    for (let j = 0; j < 500; j++) assert.equal(got[j], column(xs, j)[10])
  })
  it('median of extreme values (±FLT_MAX, subnormals, signed zeros) matches a total-order sort bit for bit', () => {
    const FLT_MAX = 3.4028234663852886e38
    const pool = [-FLT_MAX, -1, -1.401298464324817e-45, -0, 0, 1.401298464324817e-45, 1, FLT_MAX, -1e-38, 1e-38]
    const rng = seededRng('extremes')
    for (const n of [3, 4, 7, 21]) {
      const xs = Array.from({ length: n }, () => Float32Array.from({ length: 300 }, () => pool[rng.nextU32() % pool.length]))
      const got = coordinateMedian(xs).aggregate
      // Total order with -0 below +0 (Math.min's order), as the kernel uses.
      const key = (x: number): number => (Object.is(x, -0) ? -1e-300 : x)
      for (let j = 0; j < 300; j++) {
        const c = xs.map((x) => x[j]).sort((a, b) => key(a) - key(b))
        const want = n % 2 === 1 ? c[(n - 1) / 2] : Math.fround((c[n / 2 - 1] + c[n / 2]) / 2)
        assert.ok(Object.is(got[j], want), `n=${n} j=${j}: ${got[j]} vs ${want}`)
      }
    }
  })
  it('trimmed mean equals sort, drop b per side, average the rest', () => {
    for (const [n, b] of [[5, 1], [21, 4], [21, 10], [8, 3], [30, 0]] as const) {
      const xs = randomInputs(`tm-${n}-${b}`, n, 4100, 3)
      const got = trimmedMean(xs, undefined, { trimCount: b }).aggregate
      for (let j = 0; j < xs[0].length; j += 7) {
        const c = column(xs, j).slice(b, n - b)
        let s = 0
        for (const x of c) s += x
        assert.equal(got[j], Math.fround(s / c.length), `n=${n} b=${b} j=${j}`)
      }
    }
  })
  it('Krum scores equal the brute-force definition', () => {
    const xs = randomInputs('krum-ref', 9, 4100)
    const f = 2
    const scores = krumScores(xs, f)
    for (let i = 0; i < 9; i++) {
      const ds = xs.map((y, j) => (j === i ? Infinity : distance(xs[i], y) ** 2)).sort((a, b) => a - b)
      const want = ds.slice(0, 9 - f - 2).reduce((a, b) => a + b, 0)
      assert.ok(Math.abs(scores[i] - want) <= 1e-9 * want, `score ${i}: ${scores[i]} vs ${want}`)
    }
  })
})

describe('gossip-fl/aggregation: registry, state and determinism', () => {
  it('registry lists every rule and looks them up by name', () => {
    assert.deepEqual(ruleNames().sort(), ['centered-clipping', 'coordinate-median', 'geometric-median', 'krum', 'mean', 'multi-krum', 'trimmed-mean'])
    for (const name of ruleNames()) {
      assert.equal(getRule(name).name, name)
      assert.ok(getRule(name).citation.length > 10)
      assert.ok(isRuleName(name))
    }
    assert.equal(isRuleName('average'), false)
    throwsNamed(() => getRule('average'), 'UnknownStrategyError')
    throwsNamed(() => getRule('__proto__'), 'UnknownStrategyError')
    throwsNamed(() => getRule('toString'), 'UnknownStrategyError')
  })
  it('resolveParams: defaults, merge, validate, frozen', () => {
    const p = getRule('trimmed-mean').resolveParams({ trimCount: 2 })
    assert.deepEqual({ ...p }, { trimFraction: 0.1, trimCount: 2 })
    assert.ok(Object.isFrozen(p))
    assert.deepEqual({ ...getRule('centered-clipping').resolveParams() }, { tau: 10, iterations: 1 })
  })
  it('every rule is deterministic, does not mutate its inputs, and returns plain-data state', () => {
    const xs = randomInputs('det', 21, 5000)
    const copies = xs.map((x) => x.slice())
    for (const name of ruleNames()) {
      const a = aggregate(name, xs, undefined)
      const b = aggregate(name, xs.map((x) => x.slice()), undefined)
      assert.deepEqual(Buffer.from(a.aggregate.buffer), Buffer.from(b.aggregate.buffer), name)
      assert.deepEqual(a.state, b.state)
      assert.equal(a.aggregate.length, 5000)
      for (let j = 0; j < 5000; j++) assert.ok(Number.isFinite(a.aggregate[j]))
      // The state round-trips through structuredClone (plain data) and gives the same next round.
      const clone = structuredClone(a.state)
      const next1 = aggregate(name, xs, a.state)
      const next2 = aggregate(name, xs, clone)
      assert.deepEqual(next1.aggregate, next2.aggregate, name)
    }
    xs.forEach((x, i) => assert.deepEqual(x, copies[i]))
  })
  it('median and trimmed mean are invariant under permutation of the inputs, bit for bit', () => {
    const xs = randomInputs('perm', 13, 777)
    const rev = xs.slice().reverse()
    assert.deepEqual(coordinateMedian(xs).aggregate, coordinateMedian(rev).aggregate)
    assert.deepEqual(trimmedMean(xs, undefined, { trimCount: 3 }).aggregate, trimmedMean(rev, undefined, { trimCount: 3 }).aggregate)
  })
  it('a state from another rule, or a malformed center, is a RuleStateError', () => {
    const xs = [v(1, 2), v(3, 4), v(5, 6)]
    const cc: RuleState = { rule: 'centered-clipping', center: v(0, 0) }
    for (const name of ruleNames().filter((r) => r !== 'centered-clipping')) {
      throwsNamed(() => aggregate(name, xs, cc), 'RuleStateError')
    }
    throwsNamed(() => centeredClipping(xs, { rule: 'mean' }), 'RuleStateError')
    throwsNamed(() => centeredClipping(xs, { rule: 'centered-clipping', center: v(0, 0, 0) }), 'RuleStateError')
    throwsNamed(() => centeredClipping(xs, { rule: 'centered-clipping', center: v(0, Number.NaN) }), 'RuleStateError')
    throwsNamed(() => centeredClipping(xs, { rule: 'centered-clipping', center: [0, 0] } as unknown as RuleState), 'RuleStateError')
    throwsNamed(() => mean(xs, null as unknown as RuleState), 'RuleStateError')
  })
})

describe('gossip-fl/aggregation: hostile inputs give typed errors', () => {
  const hostileInputs: Array<[string, unknown]> = [
    ['empty list', []],
    ['different lengths', [v(1, 2), v(1, 2, 3)]],
    ['NaN entry', [v(1, 2), v(Number.NaN, 2), v(3, 4)]],
    ['+Infinity entry', [v(1, 2), v(1, Infinity), v(3, 4)]],
    ['-Infinity entry', [v(1, -Infinity), v(1, 2), v(3, 4)]],
    ['zero-length vectors', [new Float32Array(0), new Float32Array(0)]],
    ['Float64Array', [new Float64Array(2), new Float64Array(2)]],
    ['plain arrays', [[1, 2], [3, 4]]],
    ['not an array', 'abc'],
    ['holes', [v(1, 2), undefined, v(3, 4)]],
    ['too many inputs', new Array(MAX_INPUTS + 1).fill(v(1))]
  ]
  for (const name of ['mean', 'coordinate-median', 'trimmed-mean', 'krum', 'multi-krum', 'geometric-median', 'centered-clipping'] as RuleName[]) {
    it(`${name}: rejects malformed inputs with AggregationInputError`, () => {
      for (const [what, inputs] of hostileInputs) {
        assert.throws(() => aggregate(name, inputs as Float32Array[], undefined), (err: Error) => {
          assert.equal(err.name, 'AggregationInputError', `${name} / ${what}: ${err.name} ${err.message}`)
          return true
        })
      }
    })
  }
  it('a non-finite entry deep in a long vector (past the first block) is caught by every rule', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      const xs = randomInputs('deep', 9, 10000)
      xs[4][9999] = bad
      for (const name of ruleNames()) throwsNamed(() => aggregate(name, xs, undefined), 'AggregationInputError')
    }
  })
  it('extreme finite values (±FLT_MAX, subnormals) never produce NaN or Infinity', () => {
    const FLT_MAX = 3.4028234663852886e38
    const pool = [-FLT_MAX, FLT_MAX, 1.401298464324817e-45, -0, 0, 1, -1e30]
    const rng = seededRng('extreme-all')
    const xs = Array.from({ length: 9 }, () => Float32Array.from({ length: 64 }, () => pool[rng.nextU32() % pool.length]))
    const state: RuleState = { rule: 'centered-clipping', center: Float32Array.from({ length: 64 }, (_, j) => (j % 2 === 0 ? FLT_MAX : -FLT_MAX)) }
    for (const name of ruleNames()) {
      for (const params of [undefined, name === 'centered-clipping' ? { tau: 1e300, iterations: 5 } : undefined]) {
        const r = aggregate(name, xs, name === 'centered-clipping' ? state : undefined, params)
        assert.ok(r.aggregate.every((x) => Number.isFinite(x)), name)
      }
    }
  })
  it('wrong parameters are InvalidParametersError', () => {
    const xs = randomInputs('params', 7, 10)
    const bad: Array<[RuleName, unknown]> = [
      ['mean', { x: 1 }],
      ['mean', 5],
      ['mean', [1]],
      ['coordinate-median', { trimCount: 1 }],
      ['trimmed-mean', { trimFraction: 0.5 }],
      ['trimmed-mean', { trimFraction: -0.1 }],
      ['trimmed-mean', { trimFraction: Number.NaN }],
      ['trimmed-mean', { trimFraction: '0.1' }],
      ['trimmed-mean', { trimCount: 1.5 }],
      ['trimmed-mean', { trimCount: -1 }],
      ['trimmed-mean', { trimFracton: 0.2 }],
      ['krum', { f: -1 }],
      ['krum', { f: 0.5 }],
      ['krum', { m: 2 }],
      ['multi-krum', { m: 0 }],
      ['multi-krum', { f: Infinity }],
      ['geometric-median', { maxIterations: 0 }],
      ['geometric-median', { maxIterations: 1e9 }],
      ['geometric-median', { smoothing: 0 }],
      ['geometric-median', { smoothing: 5e-324 }],
      ['geometric-median', { smoothing: 1e300 }],
      ['geometric-median', { tolerance: -1 }],
      ['centered-clipping', { tau: 0 }],
      ['centered-clipping', { tau: -1 }],
      ['centered-clipping', { tau: Infinity }],
      ['centered-clipping', { iterations: 0 }],
      ['centered-clipping', { iterations: 2.5 }]
    ]
    for (const [name, params] of bad) {
      assert.throws(() => aggregate(name, xs, undefined, params as never), (err: Error) => {
        assert.equal(err.name, 'InvalidParametersError', `${name} ${JSON.stringify(params)}: ${err.name}`)
        return true
      })
    }
  })
  it('Krum refuses more inputs than its O(n^2) memory bound allows', () => {
    const one = v(1, 2)
    throwsNamed(() => krum(new Array(2049).fill(one)), 'AggregationInputError')
    throwsNamed(() => multiKrum(new Array(2049).fill(one)), 'AggregationInputError')
  })
  it('parameters impossible for the input count: upper bounds clamped, empty input refused', () => {
    const xs = randomInputs('few', 5, 10)
    // Krum / Multi-Krum: a fixed f and m are upper bounds for the same reason: f = 2 needs
    // n >= 7, so 5 inputs use f = 1; m = 6 > n - f = 4 uses 4; below 3 inputs, the mean.
    assert.deepEqual(arr(krum(xs, undefined, { f: 2 }).aggregate), arr(krum(xs, undefined, { f: 1 }).aggregate))
    assert.deepEqual(krum(xs, undefined, { f: 2 }).selected, krum(xs, undefined, { f: 1 }).selected)
    assert.deepEqual(arr(multiKrum(xs, undefined, { f: 1, m: 6 }).aggregate), arr(multiKrum(xs, undefined, { f: 1, m: 4 }).aggregate))
    assert.deepEqual(arr(multiKrum(xs, undefined, { f: 5 }).aggregate), arr(multiKrum(xs, undefined, { f: 1 }).aggregate))
    const two = xs.slice(0, 2)
    const mean2 = arr(two[0]).map((x, j) => Math.fround((x + two[1][j]) / 2))
    assert.deepEqual(arr(krum(two).aggregate), mean2)
    assert.deepEqual(arr(multiKrum(two, undefined, { f: 3 }).aggregate), mean2)
    assert.deepEqual(multiKrum(xs.slice(0, 1)).selected, [0])
    // trimmed mean: a fixed trimCount is an upper bound (liveness when groups are lost), so 3 of 5 trims 2.
    assert.deepEqual(arr(trimmedMean(xs, undefined, { trimCount: 3 }).aggregate), arr(trimmedMean(xs, undefined, { trimCount: 2 }).aggregate))
    throwsNamed(() => trimmedMean([], undefined, { trimCount: 3 }), 'AggregationInputError')
    throwsNamed(() => krumScores(xs, 2), 'AggregationInputError')
  })
})

describe('gossip-fl/aggregation: distance to the aggregate', () => {
  it('distances and relative distances single out the far input', () => {
    const xs = [v(0, 0), v(1, 0), v(0, 1), v(30, 40)]
    const agg = coordinateMedian(xs).aggregate // (0.5, 0.5)
    const dist = distancesToAggregate(xs, agg)
    assert.ok(Math.abs(dist[3] - Math.hypot(29.5, 39.5)) < 1e-9)
    assert.ok(Math.abs(dist[0] - Math.SQRT1_2) < 1e-9)
    const rel = relativeDistancesToAggregate(xs, agg)
    assert.ok(rel[3] > 50 && rel[0] <= 1.0000001)
    assert.deepEqual(arr(relativeDistancesToAggregate([v(1), v(1), v(1), v(5)], v(1))), [0, 0, 0, Infinity])
  })
  it('rejects a mismatched or non-finite aggregate', () => {
    throwsNamed(() => distancesToAggregate([v(1, 2)], v(1)), 'AggregationInputError')
    throwsNamed(() => distancesToAggregate([v(1, 2)], v(1, Number.NaN)), 'AggregationInputError')
    throwsNamed(() => distancesToAggregate([], v(1)), 'AggregationInputError')
    throwsNamed(() => distancesToAggregate([v(1)], [1] as unknown as Float32Array), 'AggregationInputError')
  })
})
