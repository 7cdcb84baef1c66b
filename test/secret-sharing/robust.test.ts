import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../src/util/rng.ts'
import { P, share, reconstruct, randomFieldElements, checkConsistency, robustReconstruct, berlekampWelch, evalPoly, project, interpolate, onPolynomial, lagrangeWeightsAt, lagrangeWeightsAtZero, linearCombination, type Share } from '../../src/secret-sharing/index.ts'

function sharesOf(ys: Uint32Array[]): Share[] {
  return ys.map((y, j) => ({ x: j + 1, y }))
}

/** Corrupt holder j's share in one coordinate (or all, when `all`). */
function corrupt(s: Share, rng: ReturnType<typeof seededRng>, all = false): Share {
  const y = Uint32Array.from(s.y)
  if (all) { for (let i = 0; i < y.length; i++) y[i] = (y[i]! + 1 + (rng.nextU32() % 1000)) % P } else {
    const i = rng.nextU32() % y.length
    y[i] = (y[i]! + 1 + (rng.nextU32() % (P - 1))) % P
  }
  return { x: s.x, y }
}

describe('secret-sharing/consistency and error correction', () => {
  it('project is the dot product mod p (checked against BigInt)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 300 }), fc.integer(), (n, seed) => {
      const rng = seededRng(seed)
      const y = randomFieldElements(rng, new Uint32Array(n))
      const r = randomFieldElements(rng, new Uint32Array(n))
      let s = 0n
      for (let i = 0; i < n; i++) s += BigInt(y[i]!) * BigInt(r[i]!)
      assert.equal(BigInt(project(y, r)), s % BigInt(P))
    }), { numRuns: 200 })
  })

  it('consistent shares pass; one changed coordinate in one holder is detected', () => {
    const rng = seededRng('cc')
    const secret = randomFieldElements(rng, new Uint32Array(5000))
    const s = sharesOf(share(secret, 7, 3, rng))
    assert.equal(checkConsistency(s, 3, rng), true)
    for (let j = 0; j < 7; j++) {
      const bad = s.map((x, i) => (i === j ? corrupt(x, rng) : x))
      assert.equal(checkConsistency(bad, 3, rng), false, `holder ${j}`)
    }
    // exactly t shares: nothing to check
    assert.equal(checkConsistency(s.slice(0, 3), 3, rng), true)
  })

  it('Berlekamp-Welch names up to floor((k - t) / 2) injected bad holders and recovers the secret (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 8 }), fc.integer(), fc.boolean(), (t, extra, seed, all) => {
      const m = t + extra
      const rng = seededRng(seed)
      const secret = randomFieldElements(rng, new Uint32Array(300))
      const s = sharesOf(share(secret, m, t, rng))
      const e = Math.floor((m - t) / 2)
      const nBad = e === 0 ? 0 : rng.nextU32() % (e + 1)
      const badIdx = new Set<number>()
      while (badIdx.size < nBad) badIdx.add(rng.nextU32() % m)
      const given = s.map((x, j) => (badIdx.has(j) ? corrupt(x, rng, all) : x))
      const res = robustReconstruct(given, t, rng)
      assert.deepEqual(res.secret, secret)
      assert.deepEqual(res.blamed, [...badIdx].map((j) => j + 1).sort((a, b) => a - b))
      assert.equal(res.checked, m > t)
    }), { numRuns: 150 })
  })

  it('too many bad holders give TooManyFaultsError, never a wrong secret', () => {
    const rng = seededRng('tmf')
    const secret = randomFieldElements(rng, new Uint32Array(100))
    const s = sharesOf(share(secret, 9, 3, rng)) // corrects up to 3
    for (const nBad of [4, 5]) {
      const given = s.map((x, j) => (j < nBad ? corrupt(x, rng, true) : x))
      try {
        const r = robustReconstruct(given, 3, rng)
        // With this many errors decoding may only land on another codeword if the bad
        // holders agree on one; independent corruption makes that negligible.
        assert.fail(`decoded ${r.blamed} instead of refusing`)
      } catch (e) { assert.equal((e as Error).name, 'TooManyFaultsError') }
    }
    // no redundancy to correct: k - t = 1
    const given = s.slice(0, 4).map((x, j) => (j === 0 ? corrupt(x, rng) : x))
    assert.throws(() => robustReconstruct(given, 3, rng), { name: 'TooManyFaultsError' })
  })

  it('berlekampWelch on scalars: a degree-2 polynomial with 2 wrong points of 7', () => {
    const c = [5, 7, 11]
    const xs = [1, 2, 3, 4, 5, 6, 7]
    const ys = xs.map((x) => evalPoly(c, x))
    ys[1] = (ys[1]! + 1) % P
    ys[5] = 0
    const { poly, errors } = berlekampWelch(xs, ys, 2)
    assert.deepEqual([...poly], c)
    assert.deepEqual(errors, [1, 5])
  })

  it('robustReconstruct with exactly t shares reconstructs unchecked', () => {
    const rng = seededRng('t-only')
    const secret = randomFieldElements(rng, new Uint32Array(10))
    const s = sharesOf(share(secret, 5, 3, rng))
    const r = robustReconstruct(s.slice(2), 3, rng)
    assert.deepEqual(r.secret, secret)
    assert.equal(r.checked, false)
    assert.deepEqual(reconstruct(s.slice(2), 3), secret)
  })

  it('hostile inputs: typed errors', () => {
    const rng = seededRng('h')
    const s = sharesOf(share(new Uint32Array(4), 5, 3, rng))
    assert.throws(() => checkConsistency(s.slice(0, 2), 3, rng), { name: 'ShareFormatError' })
    assert.throws(() => checkConsistency([s[0]!, { x: 1, y: s[1]!.y }, s[2]!], 2, rng), { name: 'ShareFormatError' })
    assert.throws(() => robustReconstruct([...s.slice(0, 4), { x: 5, y: Uint32Array.of(0, 0, P, 0) }], 3, rng), { name: 'FieldElementError' })
    assert.throws(() => robustReconstruct(s, 0, rng), { name: 'ShareParametersError' })
    assert.throws(() => robustReconstruct([...s.slice(0, 4), { x: 5, y: new Uint32Array(3) }], 3, rng), { name: 'ShareFormatError' })
    assert.throws(() => project(new Uint32Array(3), new Uint32Array(4)), { name: 'ShareFormatError' })
    assert.throws(() => berlekampWelch([1, 2], [1, 2], 2), { name: 'ShareFormatError' })
    assert.throws(() => project(Uint32Array.of(P), Uint32Array.of(1)), { name: 'FieldElementError' })
    // the scalar polynomial tools
    assert.throws(() => berlekampWelch([1, 1, 2, 3], [1, 2, 3, 4], 1), { name: 'ShareFormatError' })
    assert.throws(() => berlekampWelch([1, 2, 3, 4], [1, 2, 3, P], 1), { name: 'FieldElementError' })
    assert.throws(() => berlekampWelch([1, 2, 3, 4], [1, 2, 3], 1), { name: 'ShareFormatError' })
    assert.throws(() => berlekampWelch([1, 2, 3, 4], [1, 2, 3, 4], -1), { name: 'ShareParametersError' })
    assert.throws(() => berlekampWelch([1, 2, 3, 4], [1, 2, 3, 4], 1.5), { name: 'ShareParametersError' })
    assert.throws(() => onPolynomial([0, 1], [1, 2], 0), { name: 'ShareFormatError' })
    assert.throws(() => interpolate([1, 2.5], [1, 2]), { name: 'ShareFormatError' })
    assert.throws(() => interpolate([1, 2], [1, NaN]), { name: 'FieldElementError' })
    assert.throws(() => lagrangeWeightsAt([1, 2], -1), { name: 'FieldElementError' })
    assert.throws(() => lagrangeWeightsAtZero([4, 4]), { name: 'ShareFormatError' })
    assert.throws(() => evalPoly([1, 2], P), { name: 'FieldElementError' })
    assert.throws(() => evalPoly([1, P], 2), { name: 'FieldElementError' })
    assert.throws(() => linearCombination([Uint32Array.of(1), Uint32Array.of(1, 2)], Uint32Array.of(1, 1)), { name: 'ShareFormatError' })
    assert.throws(() => linearCombination([Uint32Array.of(1)], Uint32Array.of(1, 1)), { name: 'ShareFormatError' })
    assert.throws(() => linearCombination([Uint32Array.of(P)], Uint32Array.of(1)), { name: 'FieldElementError' })
    assert.throws(() => linearCombination([], new Uint32Array(0)), { name: 'ShareFormatError' })
    assert.deepEqual([...linearCombination([Uint32Array.of(P - 1, 3), Uint32Array.of(2, 5)], Uint32Array.of(P - 1, 2))], [(1 + 4) % P, (P - 3 + 10) % P])
  })
})
