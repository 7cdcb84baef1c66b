import assert from 'node:assert/strict'
import fc from 'fast-check'
import { projectionsOnAggregate } from '../../../src/gossip-fl/aggregation/distances.ts'

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs)

describe('aggregation/projectionsOnAggregate: each input along the aggregate direction (outlier evidence)', () => {
  it('hand-computed vectors; a zero aggregate gives zeros', () => {
    // aggregate (3, 4), unit (0.6, 0.8): (1, 0) -> 0.6, (0, -5) -> -4, (3, 4) -> 5
    assert.deepEqual(Array.from(projectionsOnAggregate([f32([1, 0]), f32([0, -5]), f32([3, 4])], f32([3, 4]))).map(v => Math.round(v * 1e6) / 1e6), [0.6, -4, 5])
    assert.deepEqual(Array.from(projectionsOnAggregate([f32([1, 0]), f32([-1, 0])], f32([0, 0]))), [0, 0])
  })

  it('an IPM group (h - C u) / 2 is as short as an honest pair yet projects negatively: a distance test cannot tell them apart, the projection can', () => {
    // honest updates of norm 1 at 60 degrees to u = e1, attacker -u
    const h = (s: number): Float32Array => f32([0.5, s * Math.sqrt(3) / 2])
    const atk = f32([-1, 0])
    const pair = (a: Float32Array, b: Float32Array): Float32Array => a.map((v, j) => (v + b[j]!) / 2)
    const means = [pair(h(1), h(-1)), pair(h(1), atk)]
    const norm = (x: Float32Array): number => Math.hypot(...x)
    assert.ok(Math.abs(norm(means[0]!) - norm(means[1]!)) < 1e-6)
    const p = projectionsOnAggregate(means, f32([0.1, 0]))
    assert.ok(p[0]! > 0.49 && p[1]! < -0.24)
  })

  it('property: invariant under positive scaling of the aggregate, bounded by the input norms', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 15 }), fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 3 }), (xs, a) => {
      const inputs = xs.map(x => f32(x))
      const p = projectionsOnAggregate(inputs, f32(a))
      const q = projectionsOnAggregate(inputs, f32(a.map(v => v * 4)))
      p.forEach((v, i) => {
        assert.ok(Math.abs(v - q[i]!) <= 1e-9 * (1 + Math.abs(v)))
        assert.ok(Math.abs(v) <= Math.hypot(...inputs[i]!) * (1 + 1e-9) + 1e-9)
      })
    }), { seed: 11, numRuns: 200 })
  })

  it('hostile inputs: typed errors', () => {
    const bad = (fn: () => unknown): void => assert.throws(fn, (e: Error) => e.name === 'AggregationInputError')
    bad(() => projectionsOnAggregate([], f32([1])))
    bad(() => projectionsOnAggregate([f32([1, 2])], f32([1])))
    bad(() => projectionsOnAggregate([f32([1])], f32([Number.NaN])))
    bad(() => projectionsOnAggregate([f32([Number.POSITIVE_INFINITY])], f32([1])))
    bad(() => projectionsOnAggregate([f32([1])], [1] as never))
  })
})
