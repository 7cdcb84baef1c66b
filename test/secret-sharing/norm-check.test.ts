import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../src/util/rng.ts'
import {
  P, share, randomFieldElements, fixedPoint, encodedSquaredNorm, fromSigned, interpolate,
  normSquarePoint, normSquarePoints, dealZeroShares, maskNormPoints, reconstructNormSquared, robustReconstructNormSquared,
  type PointShare,
} from '../../src/secret-sharing/index.ts'

function points(ys: ArrayLike<number>, xs?: number[]): PointShare[] {
  return Array.from({ length: ys.length }, (_, j) => ({ x: xs?.[j] ?? j + 1, y: ys[j]! }))
}

/** The whole committee: every holder deals zero shares, every holder masks its points. */
function maskedCommittee(perHolderPoints: Uint32Array[], m: number, t: number, seed: string): Uint32Array[] {
  const count = perHolderPoints[0]!.length
  const dealt = Array.from({ length: m }, (_, d) => dealZeroShares(count, m, t, seededRng(`${seed}/dealer${d}`)))
  return perHolderPoints.map((pts, j) => maskNormPoints(pts, dealt.map((dd) => dd[j]!)))
}

describe('secret-sharing/norm-check', () => {
  it('normSquarePoint is sum y^2 mod p (checked against BigInt)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 500 }), fc.integer(), (n, seed) => {
      const y = randomFieldElements(seededRng(seed), new Uint32Array(n))
      let s = 0n
      for (const v of y) s += BigInt(v) * BigInt(v)
      assert.equal(BigInt(normSquarePoint(y)), s % BigInt(P))
    }), { numRuns: 200 })
    const y = new Uint32Array(1 << 20).fill(P - 1) // > one chunk of 2^19, all at the max
    assert.equal(BigInt(normSquarePoint(y)), (BigInt(P - 1) ** 2n * BigInt(1 << 20)) % BigInt(P))
  })

  it('the reconstructed squared norm equals the plaintext squared norm of the encoded update (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.integer(), (t, extra, seed) => {
      const m = 2 * t - 1 + extra
      const d = 200
      const fp = fixedPoint({ normBound: 1, dim: d, maxSummands: 100, rounding: 'stochastic' })
      const rng = seededRng(seed)
      const x = Float32Array.from({ length: d }, () => (rng.nextFloat() - 0.5) * 0.1)
      const q = fp.encode(x, rng)
      const plain = encodedSquaredNorm(q)
      const ys = share(q, m, t, rng)
      const pts = ys.map((y) => Uint32Array.of(normSquarePoint(y)))
      const masked = maskedCommittee(pts, m, t, `mask${seed}`)
      const got = reconstructNormSquared(points(masked.map((v) => v[0]!)), t)
      assert.equal(got, plain)
      assert.ok(got <= fp.maxSquaredNorm)
      // and from exactly 2t - 1 of the points, any of them
      const sub = points(masked.map((v) => v[0]!)).slice(extra)
      assert.equal(reconstructNormSquared(sub, t), plain)
    }), { numRuns: 60 })
  })

  it('an update up to sqrt(headroom) = 2 times over the bound is refused exactly, without seeing the update', () => {
    const d = 1000
    const fp = fixedPoint({ normBound: 1, dim: d, maxSummands: 100, rounding: 'nearest' })
    for (const factor of [1.01, 1.5, 1.99]) {
      // bypass the encoder's own check: a malicious contributor encodes factor x the bound
      const q = new Uint32Array(d)
      q[0] = fromSigned(Math.round(fp.scale * factor * 0.8))
      q[1] = fromSigned(-Math.round(fp.scale * factor * 0.6))
      const ys = share(q, 7, 3, seededRng(`over${factor}`))
      const masked = maskedCommittee(ys.map((y) => Uint32Array.of(normSquarePoint(y))), 7, 3, 'over-mask')
      const n2 = reconstructNormSquared(points(masked.map((v) => v[0]!)), 3)
      assert.equal(n2, encodedSquaredNorm(q))
      assert.ok(n2 > fp.maxSquaredNorm, `factor ${factor}`)
    }
  })

  it('documented limit: a crafted vector whose squared norm wraps mod p passes the check', () => {
    const fp = fixedPoint({ normBound: 1, dim: 4, maxSummands: 100, rounding: 'nearest' })
    // ||q||^2 = p + 4405: far above the bound (the field holds ~2 x 10^9), read as 4405 mod p.
    const q = Uint32Array.from([fromSigned(46340), fromSigned(-304), fromSigned(6), fromSigned(0)])
    const plain = encodedSquaredNorm(q)
    assert.equal(plain, P + 4405)
    const ys = share(q, 5, 3, seededRng('wrap'))
    const n2 = reconstructNormSquared(points(ys.map((y) => normSquarePoint(y))), 3)
    assert.equal(n2, plain - P)
    assert.ok(n2 <= fp.maxSquaredNorm) // accepted: see docs/architecture/secret-sharing.md, Limits
  })

  it('masking hides all but the constant term: the other coefficients change, the norm does not', () => {
    const m = 7; const t = 3
    const q = randomFieldElements(seededRng('mask-q'), new Uint32Array(50))
    const ys = share(q, m, t, seededRng('mask-share'))
    const raw = ys.map((y) => normSquarePoint(y))
    const xs = Array.from({ length: 2 * t - 1 }, (_, j) => j + 1)
    const unmasked = interpolate(xs, raw.slice(0, 2 * t - 1))
    const highs: number[] = []
    for (let k = 0; k < 5; k++) {
      const masked = maskedCommittee(raw.map((v) => Uint32Array.of(v)), m, t, `mask-${k}`).map((v) => v[0]!)
      const c = interpolate(xs, masked.slice(0, 2 * t - 1))
      assert.equal(c[0], unmasked[0]) // same norm
      for (let i = 1; i < c.length; i++) assert.notEqual(c[i], unmasked[i]) // higher coefficients re-randomized
      highs.push(c[2 * t - 2]!)
    }
    assert.equal(new Set(highs).size, highs.length)
  })

  it('dealt zero shares lie on a degree-2(t-1) polynomial with constant term 0', () => {
    const m = 9; const t = 4
    const dealt = dealZeroShares(3, m, t, seededRng('zero'))
    for (let c = 0; c < 3; c++) {
      const pts = points(dealt.map((v) => v[c]!))
      assert.equal(reconstructNormSquared(pts, t), 0)
    }
    assert.throws(() => dealZeroShares(1, 4, 3, seededRng(1)), { name: 'ShareParametersError' }) // needs m >= 2t - 1
  })

  it('an inconsistent dealer (shares not on one degree-(t-1) polynomial) is caught by the norm-point check', () => {
    const m = 8; const t = 3 // 8 > 2t - 1 = 5 points: 3 of redundancy
    for (let trial = 0; trial < 10; trial++) {
      const rng = seededRng(`dealer${trial}`)
      const q = randomFieldElements(rng, new Uint32Array(100))
      const ys = share(q, m, t, rng)
      // the dealer gives holder h a vector from a different sharing (e.g. of a
      // different secret): each holder's vector looks random, but the set is inconsistent
      const h = trial % m
      const other = share(randomFieldElements(rng, new Uint32Array(100)), m, t, rng)
      ys[h] = other[h]!
      const masked = maskedCommittee(ys.map((y) => Uint32Array.of(normSquarePoint(y))), m, t, `dm${trial}`)
      const pts = points(masked.map((v) => v[0]!))
      assert.throws(() => reconstructNormSquared(pts, t), { name: 'InconsistentSharesError' })
      // with 3 points of redundancy, one bad point is also located: the holder that got the odd share
      const r = robustReconstructNormSquared(pts, t)
      assert.deepEqual(r.blamed, [h + 1])
    }
  })

  it('robust norm reconstruction blames holders that publish wrong points', () => {
    const m = 9; const t = 3 // 2t - 1 = 5, corrects 2
    const q = randomFieldElements(seededRng('rn'), new Uint32Array(20))
    const ys = share(q, m, t, seededRng('rn-s'))
    const masked = maskedCommittee(normSquarePoints(ys).reduce<Uint32Array[]>((a, v) => { a.push(Uint32Array.of(v)); return a }, []), m, t, 'rn-m')
    const pts = points(masked.map((v) => v[0]!))
    const truth = reconstructNormSquared(pts, t)
    pts[2] = { x: 3, y: (pts[2]!.y + 5) % P }
    pts[7] = { x: 8, y: 12345 }
    const r = robustReconstructNormSquared(pts, t)
    assert.equal(r.normSquared, truth)
    assert.deepEqual(r.blamed, [3, 8])
    pts[0] = { x: 1, y: 1 }
    assert.throws(() => robustReconstructNormSquared(pts, t), { name: 'TooManyFaultsError' })
  })

  it('hostile inputs: typed errors', () => {
    const good = points([1, 2, 3, 4, 5])
    assert.throws(() => reconstructNormSquared(good.slice(0, 4), 3), { name: 'ShareFormatError' })
    assert.throws(() => reconstructNormSquared([...good.slice(0, 4), { x: 5, y: P }], 3), { name: 'FieldElementError' })
    assert.throws(() => reconstructNormSquared([...good.slice(0, 4), { x: 5, y: 1.5 }], 3), { name: 'FieldElementError' })
    assert.throws(() => reconstructNormSquared([...good.slice(0, 4), { x: 4, y: 1 }], 3), { name: 'ShareFormatError' })
    assert.throws(() => reconstructNormSquared([...good.slice(0, 4), { x: 0, y: 1 }], 3), { name: 'ShareFormatError' })
    assert.throws(() => reconstructNormSquared(good, 0), { name: 'ShareParametersError' })
    assert.throws(() => reconstructNormSquared('x' as unknown as PointShare[], 1), { name: 'ShareFormatError' })
    assert.throws(() => normSquarePoint(Uint32Array.of(P)), { name: 'FieldElementError' })
    assert.throws(() => maskNormPoints(Uint32Array.of(1, 2), [Uint32Array.of(1)]), { name: 'ShareFormatError' })
    assert.throws(() => maskNormPoints(Uint32Array.of(1, 2), [Uint32Array.of(1, P)]), { name: 'FieldElementError' })
    assert.throws(() => dealZeroShares(-1, 5, 2, seededRng(1)), { name: 'ShareParametersError' })
    assert.throws(() => dealZeroShares(1, 5, 7, seededRng(1)), { name: 'ShareParametersError' })
  })
})
