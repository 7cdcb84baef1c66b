/**
 * The recomputation's kernels (issue #4) pinned to the code they replaced: the former inline
 * implementations are kept here as references, and the optimized functions must give the
 * same bits (float32 outputs compared as bytes, indices exactly) on random inputs, including
 * means over the norm bound (the scaling path) and every centered-clipping iteration count.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng, gaussian } from '../../../src/util/rng.ts'
import { P, HALF } from '../../../src/secret-sharing/field.ts'
import { groupMeanFromField, farGroupIndices, recomputeModelFromField, recomputeModel, recomputeFromBlob, encodeGroupSums, decodeGroupSums, modelHash } from '../../../src/gossip-fl/round/aggregate.ts'
import { decodeFixed } from '../../../src/gossip-fl/round/sharing.ts'
import { centeredClipping } from '../../../src/gossip-fl/aggregation/centered-clipping.ts'
import type { RuleState } from '../../../src/gossip-fl/round/rules.ts'

/** The former groupMeanFromField (one inline loop and an inline scaling loop). */
function refGroupMeanFromField(sum: Uint32Array, scale: number, size: number, bound: number): Float32Array {
  const mean = new Float32Array(sum.length)
  let sq = 0
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i]!
    const m = Math.fround(((v > HALF ? v - P : v) / scale) / size)
    mean[i] = m
    sq += m * m
  }
  const norm = Math.sqrt(sq)
  if (norm > bound) {
    const f = bound / norm
    for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! * f
  }
  return mean
}

/** The former farGroupIndices (a closure per mean). */
function refFar(means: readonly Float32Array[], aggregate: Float32Array, factor = 2): number[] {
  if (means.length < 3) return []
  const dist = means.map(m => {
    let s = 0
    for (let i = 0; i < m.length; i++) { const d = m[i]! - aggregate[i]!; s += d * d }
    return Math.sqrt(s)
  })
  const sorted = [...dist].sort((a, b) => a - b)
  const n = sorted.length
  const med = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2
  const out: number[] = []
  dist.forEach((d, i) => { if (d > factor * med && d > 0) out.push(i) })
  return out
}

/** The former fused centered clipping, inline (session 6). */
function refCenteredClipping(inputs: readonly Float32Array[], center: Float32Array | undefined, tau: number, L: number): Float32Array {
  const n = inputs.length
  const d = inputs[0]!.length
  const v = new Float64Array(d)
  if (center !== undefined) for (let j = 0; j < d; j++) v[j] = center[j]!
  const s = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const x = inputs[i]!
    let t2 = 0
    for (let j = 0; j < d; j++) { const t = x[j]! - v[j]!; t2 += t * t }
    s[i] = t2
  }
  const factor = new Float64Array(n)
  const out = new Float32Array(d)
  for (let l = 0; l < L; l++) {
    for (let i = 0; i < n; i++) {
      const norm = Math.sqrt(s[i]!)
      factor[i] = norm <= tau ? 1 : tau / norm
      s[i] = 0
    }
    const last = l === L - 1
    for (let j = 0; j < d; j++) {
      const vj = v[j]!
      let a = 0
      for (let i = 0; i < n; i++) a += factor[i]! * (inputs[i]![j]! - vj)
      const nv = vj + a / n
      if (last) { out[j] = nv; continue }
      v[j] = nv
      for (let i = 0; i < n; i++) { const t = inputs[i]![j]! - nv; s[i]! += t * t }
    }
  }
  return out
}

const bytes = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)

/** A field vector of fixed-point values ~N(0, sigma) * 2^bits * size (centered encoding). */
function fieldSum(d: number, seed: number, sigma: number, bits: number, size: number): Uint32Array {
  const rng = seededRng(seed)
  const out = new Uint32Array(d)
  for (let i = 0; i < d; i++) {
    let q = Math.round(gaussian(rng) * sigma * 2 ** bits * size)
    q = Math.max(-HALF, Math.min(HALF, q))
    out[i] = q < 0 ? q + P : q
  }
  return out
}

describe('gossip-fl/round/aggregate kernels (issue #4: same bits as the former inline loops)', () => {
  it('groupMeanFromField equals the former implementation bit for bit, under and over the norm bound', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer(), fc.integer({ min: 8, max: 24 }), fc.integer({ min: 1, max: 9 }), fc.double({ min: 1e-3, max: 10, noNaN: true }), fc.double({ min: 1e-4, max: 1, noNaN: true }),
      (d, seed, bits, size, bound, sigma) => {
        const sum = fieldSum(d, seed, sigma, bits, size)
        assert.deepEqual(bytes(groupMeanFromField(sum, 2 ** bits, size, bound)), bytes(refGroupMeanFromField(sum, 2 ** bits, size, bound)))
      }), { numRuns: 150 })
  })

  it('farGroupIndices equals the former implementation (indices), with planted far means', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 500 }), fc.integer(), fc.integer({ min: 0, max: 3 }), (n, d, seed, planted) => {
      const rng = seededRng(seed)
      const means = Array.from({ length: n }, (_, i) => Float32Array.from({ length: d }, () => gaussian(rng) * (i < planted ? 10 : 1)))
      const agg = Float32Array.from({ length: d }, () => gaussian(rng) * 0.1)
      assert.deepEqual(farGroupIndices(means, agg), refFar(means, agg))
      assert.deepEqual(farGroupIndices(means, agg, 1.1), refFar(means, agg, 1.1))
    }), { numRuns: 150 })
  })

  it('centeredClipping equals the former inline fused form bit for bit (L = 1..4, with and without a center)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 400 }), fc.integer(), fc.integer({ min: 1, max: 4 }), fc.double({ min: 0.01, max: 5, noNaN: true }), fc.boolean(),
      (n, d, seed, L, tau, withCenter) => {
        const rng = seededRng(seed)
        const xs = Array.from({ length: n }, () => Float32Array.from({ length: d }, () => gaussian(rng)))
        const center = withCenter ? Float32Array.from({ length: d }, () => gaussian(rng) * 0.5) : undefined
        const state: RuleState | undefined = center === undefined ? undefined : { rule: 'centered-clipping', center }
        const got = centeredClipping(xs, state, { tau, iterations: L }).aggregate
        assert.deepEqual(bytes(got), bytes(refCenteredClipping(xs, center, tau, L)))
      }), { numRuns: 150 })
  })

  it('recomputeModelFromField = recomputeModel over decodeFixed = recomputeFromBlob: the same model hash, every rule', () => {
    const d = 2000
    const bits = 16
    for (const rule of [{ name: 'centered-clipping', params: { tau: 0.5 } }, { name: 'coordinate-median' }, { name: 'mean' }, { name: 'trimmed-mean' }]) {
      for (let seed = 0; seed < 4; seed++) {
        const rng = seededRng(`recompute-${rule.name}-${seed}`)
        const prev = Float32Array.from({ length: d }, () => gaussian(rng) * 0.05)
        const sizes = [2, 3, 2, 2, 1]
        const sums = sizes.map((s, g) => fieldSum(d, seed * 10 + g, 0.02 * (g === 4 ? 30 : 1), bits, s))
        const opts = { serverLr: 0.9, meanNormBound: 1.5 }
        const a = recomputeModelFromField(prev, sums, 2 ** bits, sizes, rule, undefined, opts)
        const b = recomputeModel(prev, sums.map(s => decodeFixed(s, 2 ** bits)), sizes, rule, undefined, opts)
        const blob = encodeGroupSums({ round: 3, retry: 0, bits, sizes, sums })
        const c = recomputeFromBlob(prev, blob, rule, undefined, opts)
        assert.deepEqual(modelHash(a.model), modelHash(b.model))
        assert.deepEqual(modelHash(a.model), modelHash(c.model))
        assert.deepEqual(a.far, b.far)
        assert.deepEqual(a.far, c.far)
        // the model step: prev + lr * aggregate, float32
        for (let i = 0; i < d; i++) assert.equal(a.model[i], Math.fround(prev[i]! + 0.9 * a.aggregate[i]!))
      }
    }
  })

  it('decodeGroupSums returns the sums exactly (views of the decoder copy) and refuses hostile blobs with typed errors', () => {
    const sums = [Uint32Array.of(1, 2, P - 1), Uint32Array.of(0, HALF, HALF + 1)]
    const blob = encodeGroupSums({ round: 1, retry: 0, bits: 12, sizes: [2, 3], sums })
    const g = decodeGroupSums(blob)
    assert.deepEqual(g.sums, sums)
    // decoding twice gives independent vectors (no aliasing of the input blob)
    const h = decodeGroupSums(blob)
    h.sums[0]![0] = 99
    assert.equal(g.sums[0]![0], 1)
    assert.equal(decodeGroupSums(blob).sums[0]![0], 1)
    for (const bad of [new Uint8Array(0), Uint8Array.of(0xff), blob.subarray(0, blob.length - 1), 'x' as unknown as Uint8Array]) {
      assert.throws(() => decodeGroupSums(bad), (e: Error) => e.name === 'MessageDecodeError')
    }
  })
})
