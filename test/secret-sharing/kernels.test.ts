/**
 * The hot loops of src/secret-sharing/kernels.ts (issue #4) against straightforward
 * references: BigInt arithmetic for the exact field results, and the former inline code
 * (`s >= p ? s - p : s`) for the modular additions, on random vectors and on the edge
 * values 0, 1, HALF, p - 1. Hostile entries (>= p) must be flagged, never folded in.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../src/util/rng.ts'
import { P, HALF, randomFieldElements, assertFieldVector, linearCombination, normSquarePoint, project, robustReconstruct, share } from '../../src/secret-sharing/index.ts'
import { projectKernel, normSquareKernel, addMod2, addModInto, mulRows, madRows, reduceRows, joinRows } from '../../src/secret-sharing/kernels.ts'
import { firstNonField } from '../../src/secret-sharing/field.ts'

const EDGES = [0, 1, 2, HALF - 1, HALF, HALF + 1, P - 2, P - 1]
const BP = BigInt(P)

/** Random field vector of length n, with edge values mixed in when `edges`. */
function fieldVector(n: number, seed: number, edges: boolean): Uint32Array {
  const rng = seededRng(seed)
  const v = randomFieldElements(rng, new Uint32Array(n))
  if (edges) for (let i = 0; i < n; i += 3) v[i] = EDGES[(rng.nextU32() % EDGES.length)]!
  return v
}

const vecArgs = fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer(), fc.boolean())

describe('secret-sharing/kernels (issue #4: small primed loops, same results)', () => {
  it('projectKernel is sum y[i] r[i] mod p (BigInt reference), across chunk boundaries', () => {
    fc.assert(fc.property(vecArgs, ([n, seed, edges]) => {
      const y = fieldVector(n, seed, edges)
      const r = fieldVector(n, seed + 1, edges)
      let s = 0n
      for (let i = 0; i < n; i++) s += BigInt(y[i]!) * BigInt(r[i]!)
      assert.equal(projectKernel(y, r), Number(s % BP))
    }), { numRuns: 150 })
  })

  it('projectKernel flags any entry >= p with -1 (and project/robustReconstruct throw FieldElementError)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 500 }), fc.integer(), fc.integer({ min: P, max: 2 ** 32 - 1 }), (n, seed, bad) => {
      const y = fieldVector(n, seed, false)
      const r = fieldVector(n, seed + 1, false)
      y[(seed >>> 0) % n] = bad
      assert.equal(projectKernel(y, r), -1)
      assert.throws(() => project(y, r), (e: Error) => e.name === 'FieldElementError')
    }), { numRuns: 100 })
    const rng = seededRng('kernels-hostile')
    const shares = share(randomFieldElements(rng, new Uint32Array(100)), 5, 2, rng)
    shares[3]![17] = P
    assert.throws(() => robustReconstruct(shares.map((y, j) => ({ x: j + 1, y })), 2, rng), (e: Error) => e.name === 'FieldElementError' && /\[17\]/.test(e.message))
  })

  it('normSquareKernel / normSquarePoint is sum y[i]^2 mod p (BigInt reference); an entry >= p is a FieldElementError', () => {
    fc.assert(fc.property(vecArgs, ([n, seed, edges]) => {
      const y = fieldVector(n, seed, edges)
      let s = 0n
      for (let i = 0; i < n; i++) s += BigInt(y[i]!) ** 2n
      assert.equal(normSquareKernel(y), Number(s % BP))
      assert.equal(normSquarePoint(y), Number(s % BP))
    }), { numRuns: 150 })
    const y = fieldVector(10, 7, false)
    y[4] = 2 ** 32 - 1
    assert.equal(normSquareKernel(y), -1)
    assert.throws(() => normSquarePoint(y), (e: Error) => e.name === 'FieldElementError' && /\[4\]/.test(e.message))
    assert.throws(() => normSquarePoint([1, 2] as unknown as Uint32Array), (e: Error) => e.name === 'ShareFormatError')
  })

  it('addMod2 / addModInto give exactly the former `s >= p ? s - p : s` on field elements', () => {
    fc.assert(fc.property(vecArgs, ([n, seed, edges]) => {
      const a = fieldVector(n, seed, edges)
      const b = fieldVector(n, seed + 1, edges)
      const ref = new Uint32Array(n)
      for (let i = 0; i < n; i++) { const s = a[i]! + b[i]!; ref[i] = s >= P ? s - P : s }
      const out = new Uint32Array(n)
      addMod2(out, a, b, n)
      assert.deepEqual(out, ref)
      const acc = Uint32Array.from(a)
      addModInto(acc, b, n)
      assert.deepEqual(acc, ref)
    }), { numRuns: 150 })
    // every pair of edge values
    const a = new Uint32Array(EDGES.length ** 2)
    const b = new Uint32Array(EDGES.length ** 2)
    EDGES.forEach((x, i) => EDGES.forEach((y, j) => { a[i * EDGES.length + j] = x; b[i * EDGES.length + j] = y }))
    const out = new Uint32Array(a.length)
    addMod2(out, a, b, a.length)
    for (let i = 0; i < a.length; i++) assert.equal(out[i], Number((BigInt(a[i]!) + BigInt(b[i]!)) % BP))
  })

  it('the combine rows (mulRows, madRows, reduceRows, joinRows) and linearCombination are sum w[j] y_j mod p (BigInt reference), k up to 70 (past a reduction every 32)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 300 }), fc.integer(), fc.boolean(), (k, n, seed, edges) => {
      const ys = Array.from({ length: k }, (_, j) => fieldVector(n, seed + j, edges))
      const w = fieldVector(k, seed - 1, edges)
      const got = linearCombination(ys, w)
      for (let i = 0; i < n; i++) {
        let s = 0n
        for (let j = 0; j < k; j++) s += BigInt(w[j]!) * BigInt(ys[j]![i]!)
        assert.equal(got[i], Number(s % BP))
      }
    }), { numRuns: 60 })
    // The row kernels by hand, with an offset: the same as linearCombination.
    const ys = [fieldVector(50, 1, true), fieldVector(50, 2, true)]
    const w = Uint32Array.of(P - 1, HALF)
    const lo = new Float64Array(40)
    const hi = new Float64Array(40)
    assert.equal(mulRows(ys[0]!, 10, 40, w[0]! & 0xffff, w[0]! >>> 16, lo, hi), false)
    assert.equal(madRows(ys[1]!, 10, 40, w[1]! & 0xffff, w[1]! >>> 16, lo, hi), false)
    reduceRows(lo, hi, 40)
    const out = new Uint32Array(50)
    joinRows(out, 10, 40, lo, hi)
    assert.deepEqual(out.subarray(10), linearCombination(ys, w).subarray(10))
    ys[1]![20] = P
    assert.equal(madRows(ys[1]!, 10, 40, 1, 1, lo, hi), true)
  })

  it('firstNonField / assertFieldVector name the first entry >= p (hostile values), -1 for field vectors', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 500 }), fc.integer(), fc.integer({ min: P, max: 2 ** 32 - 1 }), (n, seed, bad) => {
      const v = fieldVector(n, seed, true)
      assert.equal(firstNonField(v), -1)
      const at = (seed >>> 0) % n
      v[at] = bad
      if (at + 1 < n) v[n - 1] = bad
      assert.equal(firstNonField(v), at)
      assert.throws(() => assertFieldVector(v, 'v'), (e: Error) => e.name === 'FieldElementError' && e.message.includes(`v[${at}]`))
    }), { numRuns: 150 })
    assert.equal(firstNonField(new Uint32Array(0)), -1)
  })
})
