import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../src/util/rng.ts'
import { P, HALF, DEFAULT_HEADROOM, maxSafeScale, encodedBounds, fixedPoint, encodeFixedPoint, decodeFixedPoint, encodedSquaredNorm, sumVectors, toSigned } from '../../src/secret-sharing/index.ts'

function randomVectorWithNorm(d: number, norm: number, seed: string): Float32Array {
  const rng = seededRng(seed)
  const v = new Float64Array(d)
  let s = 0
  for (let i = 0; i < d; i++) { v[i] = rng.nextFloat() * 2 - 1; s += v[i]! * v[i]! }
  const k = norm / Math.sqrt(s)
  // scale a little below the bound so float32 rounding cannot push it above
  return Float32Array.from(v, (x) => x * k * (1 - 1e-6))
}

describe('secret-sharing/fixed-point', () => {
  it('maxSafeScale for B = 1, d = 10^6, N = 10^4 meets both exactness conditions (headroom 1 and default 4)', () => {
    for (const headroom of [1, 4, 16]) {
      const req = { normBound: 1, dim: 1_000_000, maxSummands: 10_000, rounding: 'stochastic' as const, headroom }
      const s = maxSafeScale(req)
      // (S B + sqrt(d))^2 <= (p - 1) / h: S is sqrt((p - 1) / h) - 1000 up to float rounding.
      assert.ok(Math.abs(s - (Math.sqrt((P - 1) / headroom) - 1000)) < 1e-3, `scale ${s}`)
      const { maxCoord, maxSquaredNorm } = encodedBounds(s, req)
      assert.ok(maxSquaredNorm <= (P - 1) / headroom)
      assert.ok(10_000 * maxCoord <= HALF)
      // A slightly larger scale breaks the norm condition, so S is maximal.
      assert.ok(encodedBounds(s * 1.0001, req).maxSquaredNorm > (P - 1) / headroom)
    }
    assert.equal(maxSafeScale({ normBound: 1, dim: 1_000_000, maxSummands: 10_000, rounding: 'stochastic' }), maxSafeScale({ normBound: 1, dim: 1_000_000, maxSummands: 10_000, rounding: 'stochastic', headroom: DEFAULT_HEADROOM }))
    assert.equal(DEFAULT_HEADROOM, 4)
  })

  it('maxSafeScale is limited by the sum condition when N is large', () => {
    const req = { normBound: 2, dim: 100, maxSummands: 1_000_000, rounding: 'nearest' as const }
    const s = maxSafeScale(req)
    const { maxCoord } = encodedBounds(s, req)
    assert.ok(1_000_000 * maxCoord <= HALF)
    assert.ok(1_000_000 * encodedBounds(s * 1.01, req).maxCoord > HALF)
  })

  it('impossible combinations throw FixedPointParametersError', () => {
    const base = { normBound: 1, dim: 1000, maxSummands: 10, rounding: 'stochastic' as const }
    for (const bad of [
      { ...base, dim: 2 ** 31 }, // rounding noise alone fills the field
      { ...base, maxSummands: HALF }, // no room for even one unit per summand
      { ...base, normBound: 0 },
      { ...base, normBound: NaN },
      { ...base, maxSummands: 1.5 },
      { ...base, dim: 0 },
      { ...base, rounding: 'up' as unknown as 'nearest' },
      { ...base, headroom: 0.5 },
      { ...base, dim: 600_000_000, headroom: 4 }, // sqrt(d) > sqrt(p / 4)
    ]) assert.throws(() => maxSafeScale(bad), { name: 'FixedPointParametersError' }, JSON.stringify(bad))
    assert.throws(() => fixedPoint({ ...base, scale: 1e9 }), { name: 'FixedPointParametersError' })
  })

  it('encode/decode round trip within 1/S (nearest: 1/(2S))', () => {
    fc.assert(fc.property(fc.array(fc.float({ min: -1000, max: 1000, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.boolean(), fc.integer(), (xs, nearest, seed) => {
      const x = Float32Array.from(xs)
      const scale = 1000
      const q = encodeFixedPoint(x, scale, { rounding: nearest ? 'nearest' : 'stochastic', rng: seededRng(seed) })
      const y = decodeFixedPoint(q, scale)
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i]! - x[i]!) <= (nearest ? 0.5 : 1) / scale + Math.abs(x[i]!) * 1e-6)
    }), { numRuns: 200 })
  })

  it('stochastic rounding is unbiased: mean of 200,000 encodings of 0.3 is 0.3 within 4 sigma', () => {
    const x = new Float32Array(200_000).fill(0.3)
    const q = encodeFixedPoint(x, 1, { rounding: 'stochastic', rng: seededRng('unbiased') })
    let s = 0
    for (const w of q) { const v = toSigned(w); assert.ok(v === 0 || v === 1); s += v }
    const mean = s / x.length
    const sigma = Math.sqrt(0.3 * 0.7 / x.length)
    assert.ok(Math.abs(mean - Math.fround(0.3)) < 4 * sigma, `mean ${mean}`)
    // and negatives: -0.3 rounds to -1 or 0 with mean -0.3
    const qn = encodeFixedPoint(new Float32Array(200_000).fill(-0.3), 1, { rounding: 'stochastic', rng: seededRng('unbiased-neg') })
    let sn = 0
    for (const w of qn) sn += toSigned(w)
    assert.ok(Math.abs(sn / x.length + Math.fround(0.3)) < 4 * sigma)
  })

  it('a sum of 10,000 encodings at the norm bound decodes exactly (no wrap)', () => {
    const d = 64
    const fp = fixedPoint({ normBound: 1, dim: d, maxSummands: 10_000, rounding: 'stochastic', headroom: 1 }) // largest scale
    const rng = seededRng('sum10k')
    // worst case for coordinates: all mass on coordinate 0, same sign
    const x = new Float32Array(d); x[0] = 1 - 1e-7
    const y = Float32Array.from(randomVectorWithNorm(d, 1, 'sum10k-v'))
    const encs: Uint32Array[] = []
    const exact = new Float64Array(d)
    for (let k = 0; k < 10_000; k++) {
      const q = fp.encode(k % 10 !== 0 ? x : y, rng)
      encs.push(q)
      for (let i = 0; i < d; i++) exact[i]! += toSigned(q[i]!)
    }
    const sum = sumVectors(encs)
    for (let i = 0; i < d; i++) assert.equal(toSigned(sum[i]!), exact[i])
    const dec = fp.decode(sum, 10_000)
    for (let i = 0; i < d; i++) assert.equal(dec[i], Math.fround(exact[i]! / fp.scale))
    assert.ok(Math.abs(exact[0]!) > 4e8, `the test really reaches a large sum (${exact[0]})`)
  })

  it('encoded squared norm of an honest vector stays within maxSquaredNorm < p', () => {
    const d = 10_000
    const fp = fixedPoint({ normBound: 3, dim: d, maxSummands: 10_000, rounding: 'stochastic' })
    assert.ok(fp.maxSquaredNorm < P)
    for (let k = 0; k < 5; k++) {
      const q = fp.encode(randomVectorWithNorm(d, 3, `norm${k}`), seededRng(k))
      assert.ok(encodedSquaredNorm(q) <= fp.maxSquaredNorm)
    }
  })

  it('out-of-range values, non-finite inputs and over-norm vectors throw FieldOverflowError', () => {
    assert.throws(() => encodeFixedPoint(Float32Array.from([1e10]), 1, { rounding: 'nearest' }), { name: 'FieldOverflowError' })
    assert.throws(() => encodeFixedPoint(Float32Array.from([NaN]), 1, { rounding: 'nearest' }), { name: 'FieldOverflowError' })
    assert.throws(() => encodeFixedPoint(Float32Array.from([Infinity]), 1, { rounding: 'stochastic', rng: seededRng(1) }), { name: 'FieldOverflowError' })
    assert.throws(() => encodeFixedPoint(Float32Array.from([-NaN]), 1, { rounding: 'stochastic', rng: seededRng(1) }), { name: 'FieldOverflowError' })
    const fp = fixedPoint({ normBound: 1, dim: 4, maxSummands: 100, rounding: 'nearest' })
    assert.throws(() => fp.encode(Float32Array.from([0.8, 0.8, 0, 0])), { name: 'FieldOverflowError' }) // norm 1.13 > 1
    assert.throws(() => fp.encode(Float32Array.from([2, 0, 0, 0])), { name: 'FieldOverflowError' })
    assert.throws(() => fp.encode(Float32Array.from([0.5, 0.5])), { name: 'ShareFormatError' })
    // decode: a value beyond summands * maxCoord is an overflow or a hostile vector
    const big = Uint32Array.from([fp.maxCoord * 3, 0, 0, 0])
    assert.throws(() => fp.decode(big, 2), { name: 'FieldOverflowError' })
    assert.doesNotThrow(() => fp.decode(big, 3))
    assert.throws(() => fp.decode(big, 101), { name: 'FieldOverflowError' })
    assert.throws(() => fp.decode(big, 0.5), { name: 'FieldOverflowError' })
    assert.throws(() => decodeFixedPoint(Uint32Array.from([P]), 1), { name: 'FieldOverflowError' })
    assert.throws(() => encodeFixedPoint(Float32Array.from([1]), 1, { rounding: 'stochastic' }), { name: 'FixedPointParametersError' })
    assert.throws(() => encodeFixedPoint(Float32Array.from([1]), NaN, { rounding: 'nearest' }), { name: 'FixedPointParametersError' })
    assert.throws(() => encodeFixedPoint([1] as unknown as Float32Array, 1, { rounding: 'nearest' }), { name: 'ShareFormatError' })
  })
})
