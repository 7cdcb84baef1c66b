/**
 * The ledger encoding of the outlier evidence (src/reputation/outlier-evidence.ts):
 * q = sign(p) floor(|p| 2^20 + 1/2), clamped to a safe integer; decode q / 2^20 exact;
 * checkpoint evidence skips groups that were not reconstructed; hostile inputs are
 * typed errors.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  PROJECTION_SCALE, MAX_PROJECTION_Q, encodeProjection, decodeProjection, checkpointProjections, checkProjections, checkpointEvidence
} from '../../src/reputation/outlier-evidence.ts'
import { OutlierAccumulator, persistentOutliers, ownProjections, type OutlierRound } from '../../src/reputation/outliers.ts'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const C = 'c'.repeat(64)

describe('reputation/outlier-evidence: fixed-point projections on checkpoints', () => {
  it('encodes with scale 2^20, rounding half away from zero, clamped to a safe integer', () => {
    assert.equal(PROJECTION_SCALE, 1048576)
    assert.equal(encodeProjection(0), 0)
    assert.equal(Object.is(encodeProjection(-0), 0), true, 'no negative zero')
    assert.equal(Object.is(encodeProjection(-1e-9), 0), true, 'tiny negatives round to +0')
    assert.equal(encodeProjection(1), 1048576)
    assert.equal(encodeProjection(-2.5), -2621440)
    assert.equal(encodeProjection(0.5 / PROJECTION_SCALE), 1)
    assert.equal(encodeProjection(-0.5 / PROJECTION_SCALE), -1)
    assert.equal(encodeProjection(1e300), MAX_PROJECTION_Q)
    assert.equal(encodeProjection(-1e300), -MAX_PROJECTION_Q)
    for (const bad of [Number.NaN, Infinity, -Infinity, '1' as unknown as number]) assert.throws(() => encodeProjection(bad), { name: 'InvalidParametersError' })
    for (const bad of [0.5, Number.NaN, 2 ** 60]) assert.throws(() => decodeProjection(bad), { name: 'InvalidProjectionsError' })
  })

  it('property: decode(encode(p)) is within half a unit of p, and encode is odd and monotone', () => {
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true }), (p, r) => {
      const q = encodeProjection(p)
      assert.ok(Number.isSafeInteger(q))
      assert.ok(Math.abs(decodeProjection(q) - p) <= 0.5 / PROJECTION_SCALE + 1e-9 * Math.abs(p))
      assert.equal(encodeProjection(-p), q === 0 ? 0 : -q)
      if (p <= r) assert.ok(encodeProjection(p) <= encodeProjection(r))
    }), { numRuns: 500 })
  })

  it('checkpoint projections: 0 for groups not reconstructed; evidence skips them (no bias of the median)', () => {
    assert.deepEqual(checkpointProjections(3, [0, 2], [1, -0.25]), [1048576, 0, -262144])
    const ev = checkpointEvidence([[A, B], [], [C]], [1048576, 0, -262144])
    assert.deepEqual(ev, { groups: [[A, B], [C]], projections: [1, -0.25] })
    assert.throws(() => checkpointProjections(2, [0], [1, 2]), { name: 'InvalidParametersError' })
    assert.throws(() => checkpointProjections(2, [2], [1]), { name: 'InvalidParametersError' })
    assert.throws(() => checkpointProjections(-1, [], []), { name: 'InvalidParametersError' })
  })

  it('hostile evidence is an InvalidProjectionsError: wrong length, NaN, floats, unsafe integers, non-zero for an empty group, bad ids, huge', () => {
    const groups = [[A, B], []]
    const cases: unknown[] = [undefined, null, 'x', [0], [0, 0, 0], [Number.NaN, 0], [0.5, 0], [2 ** 60, 0], ['1', 0], [1, 1]]
    for (const ps of cases) assert.throws(() => checkProjections(groups, ps), { name: 'InvalidProjectionsError' }, JSON.stringify(ps))
    assert.throws(() => checkpointEvidence([['not-a-peer']], [0]), { name: 'InvalidProjectionsError' })
    const huge = new Array(70_000).fill([A])
    assert.throws(() => checkProjections(huge, new Array(70_000).fill(0)), { name: 'InvalidProjectionsError' })
    assert.deepEqual(checkProjections(groups, [5, 0]), [5, 0])
  })
})

describe('reputation/outliers: OutlierAccumulator (the ledger folds the evidence round by round)', () => {
  const ids = Array.from({ length: 8 }, (_, i) => String(i).repeat(64))

  it('property: after every round, excluded() equals persistentOutliers over the rounds so far (random groups, duplicates, windows)', () => {
    const round = fc.array(fc.record({ members: fc.array(fc.constantFrom(...ids), { minLength: 1, maxLength: 3 }), p: fc.double({ min: -5, max: 5, noNaN: true }) }), { minLength: 0, maxLength: 4 })
    fc.assert(fc.property(fc.array(round, { minLength: 1, maxLength: 25 }), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 0, max: 6 }), fc.double({ min: 0, max: 5, noNaN: true }),
      (rounds, window, minOff, tCritical) => {
        const params = { window, minObservations: Math.max(2, window - minOff), tCritical }
        const acc = new OutlierAccumulator(params)
        const history: OutlierRound[] = []
        for (const r of rounds) {
          const ev = { groups: r.map(g => g.members), projections: r.map(g => g.p) }
          history.push(ev)
          acc.add(ev)
          assert.deepEqual(acc.excluded(), persistentOutliers(history, params))
        }
        assert.equal(acc.rounds, rounds.length)
        // The windows themselves are the same, in the same order.
        const own = ownProjections(history, window)
        for (const [peer, xs] of own) assert.deepEqual((acc as unknown as { xs: Map<string, number[]> }).xs.get(peer), xs)
      }), { numRuns: 300 })
  })

  it('a bad round is a typed error and changes nothing', () => {
    const acc = new OutlierAccumulator({ window: 4, minObservations: 2, tCritical: 0 })
    acc.add({ groups: [[ids[0]!]], projections: [-1] })
    for (const bad of [{ groups: [[ids[0]!]], projections: [Number.NaN] }, { groups: [['x']], projections: [1] }, { groups: [[]], projections: [1] }, { groups: [[ids[0]!]], projections: [] }, null]) {
      assert.throws(() => acc.add(bad as never), (e: Error) => ['InvalidParametersError', 'InvalidPeerIdError'].includes(e.name), JSON.stringify(bad))
    }
    assert.equal(acc.rounds, 1)
    acc.add({ groups: [[ids[0]!], [ids[1]!]], projections: [-2, 3] })
    assert.deepEqual(acc.excluded(), persistentOutliers([{ groups: [[ids[0]!]], projections: [-1] }, { groups: [[ids[0]!], [ids[1]!]], projections: [-2, 3] }], { window: 4, minObservations: 2, tCritical: 0 }))
    assert.throws(() => new OutlierAccumulator({ window: 1 }), { name: 'InvalidParametersError' })
  })
})
