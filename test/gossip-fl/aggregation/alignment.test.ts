import assert from 'node:assert/strict'
import fc from 'fast-check'
import { lowAlignmentIndices } from '../../../src/gossip-fl/aggregation/distances.ts'

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs)

describe('aggregation/lowAlignmentIndices: the low half by projection on the aggregate', () => {
  it('flags the inputs whose projection is below the median (hand-computed vectors)', () => {
    const agg = f32([1, 0])
    // projections 3, -1, 2, 0.5 -> median (0.5 + 2) / 2 = 1.25 -> indices 1 and 3
    assert.deepEqual(lowAlignmentIndices([f32([3, 9]), f32([-1, 0]), f32([2, -4]), f32([0.5, 1])], agg), [1, 3])
    // odd n: projections 1, 2, 3 -> median 2 -> index 0
    assert.deepEqual(lowAlignmentIndices([f32([1, 0]), f32([2, 5]), f32([3, 0])], agg), [0])
    // a zero aggregate: every projection is 0, nobody is flagged
    assert.deepEqual(lowAlignmentIndices([f32([1, 0]), f32([-1, 0])], f32([0, 0])), [])
  })

  it('an IPM group (h - C u) / 2 is in the low half where a distance test misses it: shorter than honest pairs, negative projection', () => {
    // honest updates of norm 1 at angle 60 degrees to u = e1, attacker -u
    const h = (s: number): Float32Array => f32([0.5, s * Math.sqrt(3) / 2])
    const atk = f32([-1, 0])
    const pair = (a: Float32Array, b: Float32Array): Float32Array => a.map((v, j) => (v + b[j]!) / 2)
    const means = [pair(h(1), h(-1)), pair(h(1), atk), pair(h(-1), h(1)), pair(h(-1), atk)]
    // norms: honest pairs 0.5, IPM groups 0.5 too (|h - u| / 2 = 0.5 at 60 degrees): distance alone cannot tell them apart
    const agg = f32([0.1, 0])
    assert.deepEqual(lowAlignmentIndices(means, agg), [1, 3])
  })

  it('property: about half flagged (floor(n/2) at most), invariant under positive scaling of the aggregate', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 15 }), fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 3 }), (xs, a) => {
      const inputs = xs.map(x => f32(x))
      const out = lowAlignmentIndices(inputs, f32(a))
      assert.ok(out.length <= Math.floor(inputs.length / 2))
      assert.deepEqual(lowAlignmentIndices(inputs, f32(a.map(v => v * 4))), out)
    }), { seed: 11, numRuns: 200 })
  })

  it('hostile inputs: typed errors', () => {
    const bad = (fn: () => unknown): void => assert.throws(fn, (e: Error) => e.name === 'AggregationInputError')
    bad(() => lowAlignmentIndices([], f32([1])))
    bad(() => lowAlignmentIndices([f32([1, 2])], f32([1])))
    bad(() => lowAlignmentIndices([f32([1])], f32([Number.NaN])))
    bad(() => lowAlignmentIndices([f32([Number.POSITIVE_INFINITY])], f32([1])))
    bad(() => lowAlignmentIndices([f32([1])], [1] as never))
  })
})
