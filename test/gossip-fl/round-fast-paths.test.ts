/**
 * The round's fast paths (issue #4, round overhead) give exactly what the plain
 * definitions give: group means and the model straight from the field sums, share-sums
 * summed into a slice, partial sums signed over the SHA-256 of their data. Property
 * tests compare bit for bit; the signature tests check that the digest still binds
 * every byte of the data and every header field.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { sha256 } from '@noble/hashes/sha2.js'
import { signingBytes, FAMILY_PARTIAL, type PartialMsg } from '../../src/gossip-fl/round/messages.ts'
import { groupMean, groupMeanFromField, recomputeModel, recomputeModelFromField, recomputeFromBlob, encodeGroupSums, modelHash } from '../../src/gossip-fl/round/aggregate.ts'
import { decodeFixed, encodeFixed, sumShares, sumSharesInto, P } from '../../src/gossip-fl/round/sharing.ts'
import { ed25519Signer, ed25519Verify } from '../../src/gossip-fl/round/signer.ts'
import { robustReconstruct } from '../../src/secret-sharing/consistency.ts'
import { share } from '../../src/secret-sharing/shamir.ts'
import { seededRng } from '../../src/util/rng.ts'

const native = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest())
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A field vector of fixed-point values: mostly small centered values, some at the extremes. */
const fieldVec = (n: number): fc.Arbitrary<Uint32Array> => fc.array(fc.oneof(
  fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: -1073741823, max: 1073741823 })
), { minLength: n, maxLength: n }).map(a => Uint32Array.from(a, q => q < 0 ? q + P : q))

describe('round fast paths (issue #4)', () => {
  it('groupMeanFromField equals groupMean(decodeFixed(...)) bit for bit, also when the norm bound scales it (property)', () => {
    fc.assert(fc.property(fieldVec(33), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 1, max: 9 }), fc.double({ min: 1e-3, max: 1e7, noNaN: true }), (sum, bits, size, bound) => {
      const scale = 2 ** bits
      const a = groupMean(decodeFixed(sum, scale), size, bound)
      const b = groupMeanFromField(sum, scale, size, bound)
      assert.equal(hex(new Uint8Array(b.buffer)), hex(new Uint8Array(a.buffer)))
    }), { numRuns: 200 })
  })

  it('recomputeModelFromField equals recomputeModel over decodeFixed (model, rule state, far groups), for mean and centered clipping (property)', () => {
    const d = 24
    fc.assert(fc.property(fc.array(fieldVec(d), { minLength: 1, maxLength: 6 }), fc.constantFrom('mean', 'centered-clipping'), fc.integer({ min: 4, max: 16 }), (sums, rule, bits) => {
      const scale = 2 ** bits
      const prev = Float32Array.from({ length: d }, (_, i) => Math.sin(i) / 10)
      const sizes = sums.map((_, i) => 2 + (i % 3))
      const spec = rule === 'mean' ? { name: 'mean' } : { name: 'centered-clipping', params: { tau: 0.5, iterations: 3 } }
      const opts = { serverLr: 0.7, meanNormBound: 3 }
      const a = recomputeModel(prev, sums.map(s => decodeFixed(s, scale)), sizes, spec, undefined, opts)
      const b = recomputeModelFromField(prev, sums, scale, sizes, spec, undefined, opts)
      assert.equal(hex(modelHash(b.model)), hex(modelHash(a.model)))
      assert.deepEqual(b.far, a.far)
      assert.deepEqual(b.ruleState, a.ruleState)
      // And the verifier's path (the published blob) is the same function.
      const c = recomputeFromBlob(prev, encodeGroupSums({ round: 1, retry: 0, bits, sizes, sums }), spec, undefined, opts)
      assert.equal(hex(modelHash(c.model)), hex(modelHash(a.model)))
    }), { numRuns: 60 })
  })

  it('recomputeModelFromField refuses what recomputeModel refuses (typed errors)', () => {
    const prev = new Float32Array(3)
    const spec = { name: 'mean' }
    const opts = { serverLr: 1, meanNormBound: 1 }
    assert.throws(() => recomputeModelFromField(prev, [], 1, [], spec, undefined, opts), { name: 'InvalidParametersError' })
    assert.throws(() => recomputeModelFromField(prev, [new Uint32Array(3)], 1, [1, 2], spec, undefined, opts), { name: 'InvalidParametersError' })
    assert.throws(() => recomputeModelFromField(prev, [new Uint32Array(4)], 1, [1], spec, undefined, opts), { name: 'InvalidParametersError' })
  })

  it('sumSharesInto equals sumShares for 0..4 vectors and writes only its slice (property)', () => {
    fc.assert(fc.property(fc.array(fieldVec(17), { minLength: 0, maxLength: 4 }), (vs) => {
      const want = sumShares(vs, 17)
      const big = new Uint32Array(17 * 3).fill(12345)
      const got = sumSharesInto(big.subarray(17, 34), vs)
      assert.deepEqual(Array.from(got), Array.from(want))
      assert.ok(big.subarray(0, 17).every(v => v === 12345) && big.subarray(34).every(v => v === 12345), 'outside the slice untouched')
      for (const v of got) assert.ok(v < P)
    }), { numRuns: 100 })
  })

  describe(`partial sums signed over SHA-256 of their data (${FAMILY_PARTIAL})`, () => {
    const signer = ed25519Signer(new Uint8Array(32).fill(3))
    const base = (): Omit<PartialMsg, 'sig'> => ({ type: 'partial', r: 4, k: 1, from: signer.peer, g: [0, 2], data: Uint32Array.from({ length: 2 * 50 }, (_, i) => (i * 7919) % P) })

    it('the signing bytes hold the digest, not the data, and any hash implementation gives the same bytes', () => {
      const m = base()
      const a = signingBytes(m, native)
      assert.equal(hex(a), hex(signingBytes(m, sha256)))
      assert.equal(hex(a), hex(signingBytes(m)))
      assert.ok(a.length < 200, `signing bytes of ${a.length} bytes for ${m.data.byteLength} bytes of data`)
      assert.ok(new TextDecoder().decode(a).startsWith('tessera/round/v1/partial-sha256\u0000'))
      const digest = native(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength))
      assert.ok(hex(a).includes(hex(digest)), 'the digest of the data is what is signed')
    })

    it('a signature verifies, and fails after any change of one data element, a group index, the round, the retry or the sender', () => {
      const m = base()
      const sig = signer.sign(signingBytes(m, native))
      assert.ok(ed25519Verify(m.from, signingBytes(m, native), sig))
      const tampered: Array<Omit<PartialMsg, 'sig'>> = []
      for (const i of [0, 57, m.data.length - 1]) {
        const t = base()
        t.data[i] = (t.data[i]! + 1) % P
        tampered.push(t)
      }
      tampered.push({ ...base(), g: [0, 1] }, { ...base(), r: 5 }, { ...base(), k: 0 }, { ...base(), from: 'c'.repeat(64) })
      for (const t of tampered) assert.equal(ed25519Verify(m.from, signingBytes(t, native), sig), false)
    })

    it('views at any offset of a larger buffer sign like a copy', () => {
      const m = base()
      const big = new Uint32Array(m.data.length + 9)
      big.set(m.data, 5)
      const view = { ...m, data: big.subarray(5, 5 + m.data.length) }
      assert.equal(hex(signingBytes(view, native)), hex(signingBytes(m, native)))
    })
  })

  it('robustReconstruct still names an entry >= p (the check now rides in the projection pass) and still corrects one wrong holder', () => {
    const rng = seededRng('fast-paths')
    const secret = encodeFixed(Float32Array.from({ length: 40 }, (_, i) => Math.cos(i)), 2 ** 12)
    const ys = share(secret, 5, 2, rng)
    const bad = ys.map(y => Uint32Array.from(y))
    bad[3]![7] = P // not a field element
    assert.throws(() => robustReconstruct(bad.map((y, j) => ({ x: j + 1, y })), 2, rng), (e: Error) => e.name === 'FieldElementError' && /\[7\]/.test(e.message))
    const wrong = ys.map(y => Uint32Array.from(y))
    wrong[1]![3] = (wrong[1]![3]! + 1) % P
    const r = robustReconstruct(wrong.map((y, j) => ({ x: j + 1, y })), 2, rng)
    assert.deepEqual(r.blamed, [2])
    assert.deepEqual(Array.from(r.secret), Array.from(secret))
  })
})
