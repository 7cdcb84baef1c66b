import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../src/util/rng.ts'
import { P, HALF, reduce, add, sub, neg, mul, inv, pow, addInto, subInto, sumVectors, randomFieldElements, assertFieldVector, fromSigned, toSigned } from '../../src/secret-sharing/index.ts'

const BP = BigInt(P)
const elem = fc.integer({ min: 0, max: P - 1 })

describe('secret-sharing/field (p = 2^31 - 1)', () => {
  it('p is the Mersenne prime 2^31 - 1 (Euler, 1772) and HALF = (p - 1) / 2', () => {
    assert.equal(P, 2 ** 31 - 1)
    assert.equal(HALF, (P - 1) / 2)
    // Fermat test to several bases as a sanity check of the constant.
    for (const a of [2, 3, 5, 7, 11, 13]) assert.equal(pow(a, P - 1), 1)
  })

  it('mul, add, sub, neg agree with BigInt arithmetic', () => {
    fc.assert(fc.property(elem, elem, (a, b) => {
      assert.equal(BigInt(mul(a, b)), (BigInt(a) * BigInt(b)) % BP)
      assert.equal(add(a, b), (a + b) % P)
      assert.equal(sub(a, b), ((a - b) % P + P) % P)
      assert.equal(add(a, neg(a)), 0)
    }), { numRuns: 2000 })
    // corners
    for (const [a, b] of [[P - 1, P - 1], [P - 1, 1], [0, P - 1], [65535, 65535], [65536, P - 1]]) {
      assert.equal(BigInt(mul(a!, b!)), (BigInt(a!) * BigInt(b!)) % BP)
    }
  })

  it('reduce is x mod p for every integer below 2^53', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), (x) => {
      assert.equal(BigInt(reduce(Number(x))), x % BP)
    }), { numRuns: 2000 })
    assert.equal(reduce(P), 0)
    assert.equal(reduce(2 ** 53 - 1), Number((2n ** 53n - 1n) % BP))
  })

  it('inv is the multiplicative inverse; inv(0) throws FieldElementError', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: P - 1 }), (a) => { assert.equal(mul(a, inv(a)), 1) }), { numRuns: 1000 })
    assert.throws(() => inv(0), { name: 'FieldElementError' })
  })

  it('randomFieldElements draws every value below p and looks uniform (chi-square on 64 bins)', () => {
    const v = randomFieldElements(seededRng('field-uniform'), new Uint32Array(128000))
    const bins = new Array<number>(64).fill(0)
    for (const w of v) { assert.ok(w < P); bins[Math.floor(w / (P / 64))]!++ }
    const e = v.length / 64
    const chi = bins.reduce((s, o) => s + (o - e) ** 2 / e, 0)
    assert.ok(chi < 103.4, `chi-square ${chi} above the 99.9% quantile for 63 dof`) // 99.9% quantile of chi2(63) ~ 103.4
  })

  it('rejection sampling replaces the word 2^31 - 1 instead of returning p', () => {
    // An rng whose first block is all 0xffffffff (>>> 1 gives p) and then counts.
    let n = 0
    const rng = { fillU32: (o: Uint32Array) => o.fill(0xffffffff), nextU32: () => (n++) * 2, nextFloat: () => 0 }
    const v = randomFieldElements(rng, new Uint32Array(4))
    assert.deepEqual([...v], [0, 1, 2, 3])
  })

  it('vector sum helpers are coordinate-wise mod p and reject length mismatches', () => {
    const a = Uint32Array.from([P - 1, 5, 0])
    const b = Uint32Array.from([2, P - 5, 0])
    assert.deepEqual([...sumVectors([a, b, b])], [3, P - 5, 0])
    assert.deepEqual([...subInto(Uint32Array.from(a), b)], [P - 3, 10, 0])
    assert.deepEqual([...addInto(Uint32Array.from(a), b)], [1, 0, 0])
    assert.throws(() => addInto(new Uint32Array(2), new Uint32Array(3)), { name: 'ShareFormatError' })
    assert.throws(() => sumVectors([]), { name: 'ShareFormatError' })
  })

  it('signed mapping is centered and invertible on [-HALF, HALF]', () => {
    fc.assert(fc.property(fc.integer({ min: -HALF, max: HALF }), (q) => { assert.equal(toSigned(fromSigned(q)), q) }))
    assert.equal(toSigned(HALF), HALF)
    assert.equal(toSigned(HALF + 1), -HALF)
  })

  it('assertFieldVector rejects values >= p and non-Uint32Array input', () => {
    assert.throws(() => assertFieldVector(Uint32Array.from([1, P]), 'v'), { name: 'FieldElementError' })
    assert.throws(() => assertFieldVector(Uint32Array.from([0xffffffff]), 'v'), { name: 'FieldElementError' })
    assert.throws(() => assertFieldVector([1, 2] as unknown as Uint32Array, 'v'), { name: 'ShareFormatError' })
  })
})
