/**
 * The share deadline's lower bound (peer.ts shareFloorMs, issue #4 scale): a round
 * whose committee is new spends its share phase on ~N handshakes at the members, so
 * the deadline grows with the number of contributors N; every peer derives the same
 * value from the same ledger.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { shareFloorMs, PEER_DEFAULTS } from '../../../src/node/peer/peer.ts'

describe('node/peer: share deadline floor', () => {
  it('1.5 s + perPeer x N: the 10-peer benchmark keeps its 3 s deadline, 40 and 100 peers get 4.5 s and 9 s (default 75 ms)', () => {
    assert.equal(PEER_DEFAULTS.shareMsPerPeer, 75)
    assert.equal(shareFloorMs(10, 75), 2250)
    assert.equal(shareFloorMs(40, 75), 4500)
    assert.equal(shareFloorMs(100, 75), 9000)
    assert.equal(shareFloorMs(40, 150), 7500) // round 1: every connection is cold
  })

  it('0, negative or non-numeric inputs disable it (0), never NaN (hostile inputs)', () => {
    for (const [n, per] of [[10, 0], [0, 75], [-3, 75], [10, -1], [NaN, 75], [10, NaN], [Infinity, 0]] as Array<[number, number]>) {
      assert.equal(shareFloorMs(n, per), 0, `shareFloorMs(${n}, ${per})`)
    }
  })

  it('grows with N and with perPeer, and is an integer (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 100 }), (n, per, dn) => {
      const a = shareFloorMs(n, per)
      assert.ok(Number.isInteger(a) && a >= 1500)
      assert.ok(shareFloorMs(n + dn, per) > a)
      assert.ok(shareFloorMs(n, per + 1) > a)
    }))
  })
})

describe('node/peer: start delay of the next round (startDelayFor)', () => {
  it('startDelayMs up to 20 contributors (the 10-peer benchmark keeps 150 ms), then + perPeer x (N - 20): 40 peers 2.15 s, 70 peers 5.15 s', async () => {
    const { startDelayFor } = await import('../../../src/node/peer/peer.ts')
    assert.equal(PEER_DEFAULTS.startDelayMs, 150)
    assert.equal(PEER_DEFAULTS.startMsPerPeer, 100)
    assert.equal(startDelayFor(10, 150, 100), 150)
    assert.equal(startDelayFor(20, 150, 100), 150)
    assert.equal(startDelayFor(40, 150, 100), 2150)
    assert.equal(startDelayFor(70, 150, 100), 5150)
    assert.equal(startDelayFor(40, 150, 0), 150)
    // hostile: never NaN or negative
    for (const [n, d, p] of [[Number.NaN, 150, 100], [40, -5, 100], [40, 150, Number.NaN], [-3, 150, 100], [Infinity, 150, 100]]) {
      const v = startDelayFor(n!, d!, p!)
      assert.ok(Number.isFinite(v) && v >= 0, `${n} ${d} ${p} -> ${v}`)
    }
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 1000 }), (n, p) => startDelayFor(n + 1, 150, p) >= startDelayFor(n, 150, p)))
  })
})

describe('node/peer: round timing (roundTiming, issue #4: the start slack moved into the share phase)', () => {
  it('earlyStart (default): the machine starts after 150 ms and the share phase carries the slack; the share deadline is the same instant as with the start delay', async () => {
    const { roundTiming, startDelayFor } = await import('../../../src/node/peer/peer.ts')
    assert.equal(PEER_DEFAULTS.earlyStart, true)
    const o = { startDelayMs: 150, startMsPerPeer: 100, shareMsPerPeer: 75, earlyStart: true }
    assert.deepEqual(roundTiming(40, 3000, o, false), { startDelayMs: 150, shareMs: 4500 + 2000 })
    assert.deepEqual(roundTiming(70, 3000, o, false), { startDelayMs: 150, shareMs: 6750 + 5000 })
    assert.deepEqual(roundTiming(10, 3000, o, false), { startDelayMs: 150, shareMs: 3000 }, 'the 10-peer benchmark unchanged')
    assert.deepEqual(roundTiming(40, 3000, { ...o, earlyStart: false }, false), { startDelayMs: 2150, shareMs: 4500 })
    assert.deepEqual(roundTiming(40, 3000, o, true), { startDelayMs: 0, shareMs: 7500 }, 'round 1: the barrier, no slack')
    fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }), (n, charter, per, share) => {
      const a = roundTiming(n, charter, { startDelayMs: 150, startMsPerPeer: per, shareMsPerPeer: share, earlyStart: true }, false)
      const b = roundTiming(n, charter, { startDelayMs: 150, startMsPerPeer: per, shareMsPerPeer: share, earlyStart: false }, false)
      assert.equal(a.startDelayMs + a.shareMs, b.startDelayMs + b.shareMs, 'same share deadline')
      assert.ok(a.startDelayMs <= b.startDelayMs && a.shareMs >= charter)
      assert.equal(b.startDelayMs, startDelayFor(n, 150, per))
    }), { numRuns: 300 })
  })
})
