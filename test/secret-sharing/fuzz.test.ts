import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../src/util/rng.ts'
import { TesseraError } from '../../src/util/errors.ts'
import * as ss from '../../src/secret-sharing/index.ts'

/** Run fn; it may return, or throw a TesseraError with a name, never anything else. */
function typedOrOk(fn: () => unknown): void {
  try { fn() } catch (e) {
    assert.ok(e instanceof TesseraError, `untyped error: ${String(e)}`)
    assert.notEqual((e as Error).name, 'TesseraError')
  }
}

const junk = fc.oneof(
  fc.anything(),
  fc.constant(Uint32Array.of(1, 2, 3)), fc.constant(Uint32Array.of(ss.P)), fc.constant(new Float32Array([NaN, 1])),
  fc.double(), fc.integer({ min: -3, max: 12 }),
)
const pointList = fc.array(fc.record({ x: fc.oneof(fc.integer({ min: -1, max: 9 }), fc.double()), y: fc.oneof(fc.integer({ min: -1, max: ss.P + 1 }), fc.double()) }), { maxLength: 10 })
const shareList = fc.array(fc.record({ x: fc.integer({ min: -1, max: 9 }), y: fc.oneof(fc.constant(Uint32Array.of(1, 2)), fc.constant(Uint32Array.of(ss.P, 0)), fc.constant(new Uint32Array(3)), junk) }), { maxLength: 8 })

describe('secret-sharing: fuzzed public API (typed errors only)', () => {
  it('every public function answers arbitrary input with a result or a typed error', () => {
    const rng = seededRng('fuzz')
    fc.assert(fc.property(junk, junk, junk, pointList, shareList, (a, b, c, pts, shs) => {
      typedOrOk(() => ss.share(a as Uint32Array, b as number, c as number, rng))
      typedOrOk(() => ss.reconstruct(shs as ss.Share[], a as number))
      typedOrOk(() => ss.robustReconstruct(shs as ss.Share[], b as number, rng))
      typedOrOk(() => ss.checkConsistency(shs as ss.Share[], c as number, rng))
      typedOrOk(() => ss.reconstructNormSquared(pts as ss.PointShare[], a as number))
      typedOrOk(() => ss.robustReconstructNormSquared(pts as ss.PointShare[], b as number))
      typedOrOk(() => ss.berlekampWelch(pts.map((p) => p.x), pts.map((p) => p.y), c as number))
      typedOrOk(() => ss.normSquarePoint(a as Uint32Array))
      typedOrOk(() => ss.maskNormPoints(a as Uint32Array, [b as Uint32Array]))
      typedOrOk(() => ss.dealZeroShares(a as number, b as number, c as number, rng))
      typedOrOk(() => ss.encodeFixedPoint(a as Float32Array, b as number, { rounding: 'stochastic', rng }))
      typedOrOk(() => ss.decodeFixedPoint(a as Uint32Array, b as number))
      typedOrOk(() => ss.maxSafeScale({ normBound: a as number, maxSummands: b as number, dim: c as number, rounding: 'nearest' }))
      typedOrOk(() => ss.fixedPoint(a as ss.FixedPointSpec))
      typedOrOk(() => ss.addInto(a as Uint32Array, b as Uint32Array))
      typedOrOk(() => ss.project(a as Uint32Array, b as Uint32Array))
      typedOrOk(() => ss.randomProjection(a as number, rng))
      typedOrOk(() => ss.linearCombination([a as Uint32Array], b as Uint32Array))
    }), { numRuns: 300 })
  })
})
