/**
 * Round message codec: round trips, exact shapes, explicit caps, and hostile bytes
 * (random, truncated, oversized) that must give a typed error, never a crash.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { createHash } from 'node:crypto'
import { decodeMessage, encodeMessage, LIMITS, shareCommitment, vectorToBytes, bytesToVector, type RoundMessage } from '../../src/gossip-fl/round/messages.ts'
import { decodeGroupSums, encodeGroupSums, modelHash, groupSumsHash, ruleStateHash } from '../../src/gossip-fl/round/aggregate.ts'
import { resolveRoundParams, fixedPointPlan } from '../../src/gossip-fl/round/params.ts'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const sig = new Uint8Array(64).fill(7)
const samples: RoundMessage[] = [
  { type: 'share', r: 3, k: 0, from: A, x: 2, data: Uint32Array.of(0, 1, 2147483646) },
  { type: 'contribution', r: 3, k: 1, from: A, dim: 3, commitments: [new Uint8Array(32), new Uint8Array(32).fill(1)], sig },
  { type: 'zero', r: 3, k: 0, from: B, masks: Uint32Array.of(5, 6) },
  { type: 'receipt', r: 3, k: 0, from: B, dealers: [A, B], held: [{ c: A, h: new Uint8Array(32), y: [12] }], sig },
  { type: 'plan', r: 3, k: 0, from: B, dealers: [A, B], groups: [{ members: [A, B], holders: [B] }], refused: [{ peer: A, reason: 'over-norm' }], blamed: [], sig },
  { type: 'zcheck', r: 3, k: 0, from: B, points: [{ d: A, w: 5 }], sig },
  { type: 'partial', r: 3, k: 0, from: B, g: [0, 2], data: Uint32Array.of(9, 10), sig },
  {
    type: 'ckpt', r: 3, k: 0, from: B, sig,
    body: { round: 3, retry: 0, prev: new Uint8Array(32), committee: [A, B], groups: [{ members: [A, B], holders: [A, B] }], farGroups: [0], groupSumsHash: new Uint8Array(32), modelHash: new Uint8Array(32), ruleStateHash: new Uint8Array(32), blamed: [], refused: [] }
  }
]

describe('round messages', () => {
  it('round-trips every message type canonically', () => {
    for (const m of samples) {
      const b = encodeMessage(m)
      const back = decodeMessage(b)
      assert.deepEqual(encodeMessage(back), b, m.type)
      assert.equal(back.type, m.type)
    }
  })

  it('refuses extra or missing fields, bad peer ids, non-field elements, wrong sizes', () => {
    const bad: Array<Record<string, unknown>> = [
      { type: 'share', r: 3, k: 0, from: A, x: 2, data: new Uint8Array(4), extra: 1 },
      { type: 'share', r: 3, k: 0, from: 'A'.repeat(64), x: 2, data: new Uint8Array(4) },
      { type: 'share', r: 3, k: 0, from: A, x: 2, data: new Uint8Array(5) },
      { type: 'share', r: 3, k: 0, from: A, x: 2, data: Uint8Array.of(0xff, 0xff, 0xff, 0xff) },
      { type: 'share', r: -1, k: 0, from: A, x: 2, data: new Uint8Array(4) },
      { type: 'share', r: 3, k: 0, from: A, x: 0, data: new Uint8Array(4) },
      { type: 'contribution', r: 3, k: 0, from: A, dim: 3, commitments: [new Uint8Array(31)], sig },
      { type: 'receipt', r: 3, k: 0, from: B, dealers: [A, A], held: [], sig },
      { type: 'receipt', r: 3, k: 0, from: B, dealers: [], held: [{ c: A, h: new Uint8Array(32), y: [2147483647] }], sig },
      // y is one point per dealer block (issue #4): a bare number (the old layout), a non-field point, too many points
      { type: 'receipt', r: 3, k: 0, from: B, dealers: [A, B], held: [{ c: A, h: new Uint8Array(32), y: 12 }], sig },
      { type: 'receipt', r: 3, k: 0, from: B, dealers: [A, B], held: [{ c: A, h: new Uint8Array(32), y: [1, -1] }], sig },
      { type: 'receipt', r: 3, k: 0, from: B, dealers: [A, B], held: [{ c: A, h: new Uint8Array(32), y: new Array(257).fill(1) }], sig },
      { type: 'plan', r: 3, k: 0, from: B, dealers: [A, B], groups: [], refused: [{ peer: A, reason: 'x'.repeat(65) }], blamed: [], sig },
      { type: 'partial', r: 3, k: 0, from: B, g: [0], data: new Uint8Array(4), sig: new Uint8Array(63) },
      // partial sums: g a list of strictly increasing group indices, data an equal share-sum per group
      { type: 'partial', r: 3, k: 0, from: B, g: 0, data: new Uint8Array(4), sig },
      { type: 'partial', r: 3, k: 0, from: B, g: [], data: new Uint8Array(4), sig },
      { type: 'partial', r: 3, k: 0, from: B, g: [1, 1], data: new Uint8Array(8), sig },
      { type: 'partial', r: 3, k: 0, from: B, g: [2, 1], data: new Uint8Array(8), sig },
      { type: 'partial', r: 3, k: 0, from: B, g: [0, 1], data: new Uint8Array(12), sig },
      { type: 'partial', r: 3, k: 0, from: B, g: [0], data: new Uint8Array(0), sig },
      { type: 'partial', r: 3, k: 0, from: B, g: [-1], data: new Uint8Array(4), sig },
      { type: 'what', r: 3, k: 0, from: B },
      { type: 7 }
    ]
    for (const o of bad) assert.throws(() => decodeMessage(dagCbor.encode(o)), (e: Error) => e.name === 'MessageDecodeError', JSON.stringify(Object.keys(o)))
  })

  it('refuses a message over the cap before parsing it', () => {
    assert.throws(() => decodeMessage(new Uint8Array(LIMITS.maxVectorBytes + 1)), (e: Error) => e.name === 'MessageTooLargeError')
    const big = dagCbor.encode({ type: 'plan', pad: new Uint8Array(LIMITS.maxSmallBytes) })
    assert.throws(() => decodeMessage(big), (e: Error) => e.name === 'MessageTooLargeError')
  })

  it('gives only typed errors on arbitrary and truncated bytes (property)', () => {
    const typed = (f: () => unknown): boolean => {
      try { f(); return true } catch (e) { return (e as Error).name === 'MessageDecodeError' || (e as Error).name === 'MessageTooLargeError' }
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => typed(() => decodeMessage(b))), { numRuns: 500 })
    fc.assert(fc.property(fc.constantFrom(...samples), fc.nat(), (m, cut) => {
      const b = encodeMessage(m)
      return typed(() => decodeMessage(b.subarray(0, cut % b.length)))
    }), { numRuns: 300 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
      try { decodeGroupSums(b); return true } catch (e) { return (e as Error).name === 'MessageDecodeError' || (e as Error).name === 'MessageTooLargeError' }
    }), { numRuns: 300 })
  })

  it('group sums blob round-trips', () => {
    const g = { round: 2, retry: 1, bits: 12, sizes: [2, 3], sums: [Uint32Array.of(1, 2), Uint32Array.of(3, 4)] }
    assert.deepEqual(decodeGroupSums(encodeGroupSums(g)), g)
  })
})

describe('round params', () => {
  it('defaults, merge, validate with typed errors', () => {
    const p = resolveRoundParams({ committeeSize: 7, threshold: 3 })
    assert.equal(p.groupSize, 2)
    for (const bad of [{ threshold: 0 }, { committeeSize: 3, threshold: 3 }, { clipNorm: NaN }, { nope: 1 }, { deadlines: { shareMs: -1 } }, { noiseDropTolerance: 2, groupSize: 2 }]) {
      assert.throws(() => resolveRoundParams(bad as never), (e: Error) => e.name === 'InvalidParametersError', JSON.stringify(bad))
    }
  })

  it('chooses a fixed-point scale that keeps honest squared norms below (p - 1) / 4', () => {
    for (const [noise, dim] of [[0, 100_000], [1, 100_000], [0.5, 10], [0, 1]] as const) {
      const f = fixedPointPlan(resolveRoundParams({ noiseMultiplier: noise }), dim)
      assert.ok(f.normBoundField <= 2147483646 / 4)
      assert.ok(f.bits >= 4)
    }
    assert.throws(() => fixedPointPlan(resolveRoundParams({ noiseMultiplier: 1000 }), 4_000_000), (e: Error) => e.name === 'InvalidParametersError')
  })

  it('hashes the same with an injected native SHA-256 as with the default, views at any offset included', () => {
    const native = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest())
    // NIST FIPS 180-2 example: SHA-256("abc")
    assert.equal(Buffer.from(groupSumsHash(new TextEncoder().encode('abc'))).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    const big = new Uint32Array(1001)
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) % 2147483647
    const view = big.subarray(3, 1000)
    // the canonical bytes are little-endian u32, whatever the view's offset
    const le = new Uint8Array(view.length * 4)
    const dv = new DataView(le.buffer)
    view.forEach((x, i) => dv.setUint32(i * 4, x, true))
    assert.deepEqual(vectorToBytes(view), le)
    assert.deepEqual(bytesToVector(le.subarray(0)), Uint32Array.from(view))
    assert.deepEqual(shareCommitment(view, native), shareCommitment(view))
    assert.deepEqual(shareCommitment(view), native(le))
    const model = new Float32Array(big.buffer, 8, 500)
    assert.deepEqual(modelHash(model, native), modelHash(model))
    assert.deepEqual(ruleStateHash({ name: 'cc', momentum: model } as never, native), ruleStateHash({ name: 'cc', momentum: model } as never))
    assert.deepEqual(ruleStateHash(undefined, native), ruleStateHash(undefined))
  })
})
