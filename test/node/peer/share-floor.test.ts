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
