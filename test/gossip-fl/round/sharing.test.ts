/**
 * sumSharesInto (a member's share of a group sum) on the branch-free kernels of
 * src/secret-sharing/kernels.ts (issue #4) against the former inline loops, and its use in
 * a real sharing: the sum of shares reconstructs to the sum of the secrets.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../../src/util/rng.ts'
import { P, HALF, randomFieldElements } from '../../../src/secret-sharing/field.ts'
import { reconstruct } from '../../../src/secret-sharing/shamir.ts'
import { sumSharesInto, sumShares, shareVector } from '../../../src/gossip-fl/round/sharing.ts'

/** The former sumSharesInto. */
function refSumInto(out: Uint32Array, vs: readonly Uint32Array[]): Uint32Array {
  const n = out.length
  if (vs.length === 0) { out.fill(0); return out }
  const a = vs[0]!
  if (vs.length === 1) { out.set(a.subarray(0, n)); return out }
  const b = vs[1]!
  for (let i = 0; i < n; i++) { const s = a[i]! + b[i]!; out[i] = s >= P ? s - P : s }
  for (let j = 2; j < vs.length; j++) {
    const v = vs[j]!
    for (let i = 0; i < n; i++) { const s = out[i]! + v[i]!; out[i] = s >= P ? s - P : s }
  }
  return out
}

const EDGES = [0, 1, HALF, HALF + 1, P - 2, P - 1]

describe('gossip-fl/round/sharing: sumSharesInto (issue #4)', () => {
  it('equals the former loops for 0..6 vectors, longer vectors than out included, edge values mixed in', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 5 }), fc.integer(), (k, n, extra, seed) => {
      const rng = seededRng(seed)
      const vs = Array.from({ length: k }, () => {
        const v = randomFieldElements(rng, new Uint32Array(n + extra))
        for (let i = 0; i < v.length; i += 5) v[i] = EDGES[rng.nextU32() % EDGES.length]!
        return v
      })
      const got = sumSharesInto(new Uint32Array(n).fill(7), vs)
      assert.deepEqual(got, refSumInto(new Uint32Array(n).fill(7), vs))
      // into a subarray of a larger buffer (as the machine's partial message)
      const big = new Uint32Array(3 * n + 1)
      sumSharesInto(big.subarray(n, 2 * n), vs)
      assert.deepEqual(big.subarray(n, 2 * n), got)
    }), { numRuns: 200 })
  })

  it('the sum of the holders\' shares reconstructs to the sum of the secrets (mod p)', () => {
    const rng = seededRng('sharing-sum')
    const n = 1000
    const secrets = [0, 1, 2].map(() => randomFieldElements(rng, new Uint32Array(n)))
    const shares = secrets.map(s => shareVector(s, 5, 3, rng))
    const holderSums = [0, 1, 2, 3, 4].map(j => sumShares(shares.map(sh => sh[j]!), n))
    const got = reconstruct(holderSums.slice(1, 4).map((y, i) => ({ x: i + 2, y })), 3)
    for (let i = 0; i < n; i++) assert.equal(got[i], (secrets[0]![i]! + secrets[1]![i]! + secrets[2]![i]!) % P)
  })
})
