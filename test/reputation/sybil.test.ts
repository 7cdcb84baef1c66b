import assert from 'node:assert/strict'
import { sha256 } from '@noble/hashes/sha2.js'
import { computeReputation, committeeCandidates, type MemberInfo, type RoundEvidence } from '../../src/reputation/index.ts'
import { selectCommittee } from '../../src/gossip-fl/committee.ts'

const enc = new TextEncoder()
const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
const pid = (s: string): string => hex(sha256(enc.encode(s)))

/**
 * Upper bound on the expected number of young seats in a committee of m drawn by
 * weighted sampling without replacement: before draw k at most k established peers
 * are gone, so the young share of what remains is at most Y / (Y + O - top_k(O)),
 * where top_k(O) is the weight of the k heaviest established peers (x/(x + c) grows
 * in x and falls in c). Summing over the m draws bounds the expectation.
 */
function youngSeatBound(young: number[], old: number[], m: number): number {
  const Y = young.reduce((a, b) => a + b, 0)
  const O = old.reduce((a, b) => a + b, 0)
  const sorted = old.slice().sort((a, b) => b - a)
  let bound = 0
  let top = 0
  for (let k = 0; k < m; k++) {
    bound += Y / (Y + O - top)
    top += sorted[k] ?? 0
  }
  return bound
}

describe('reputation: Sybil throttle against a burst of 100 fresh identities', () => {
  const K = 10
  const PHI = 0.1
  const honest = Array.from({ length: 30 }, (_, i) => pid(`honest-${i}`))
  const sybils = Array.from({ length: 100 }, (_, i) => pid(`sybil-${i}`))
  const members: MemberInfo[] = [
    ...honest.map(peer => ({ peer, joinedRound: 0 })),
    ...sybils.map(peer => ({ peer, joinedRound: 20 })),
  ]
  // 20 rounds of honest history: a rotating committee of 5, the others contribute.
  const history: RoundEvidence[] = []
  for (let r = 0; r < 20; r++) {
    const committee = honest.filter((_, i) => (i + r) % 6 === 0)
    const contributors = honest.filter(p => !committee.includes(p))
    history.push({
      round: r, committee, contributors,
      delivered: Object.fromEntries([...committee.map(p => [p, 4]), ...contributors.map(p => [p, 5])]),
      blamed: [], missed: [], farGroupMembers: [], refused: [],
    })
  }
  /** History after the Sybils took part honestly (the cheapest way to earn weight) in t rounds. */
  const after = (t: number): RoundEvidence[] => {
    const h = history.slice()
    for (let j = 0; j < t; j++) {
      const r = 20 + j
      const contributors = [...honest.slice(5), ...sybils]
      h.push({
        round: r, committee: honest.slice(0, 5), contributors,
        delivered: Object.fromEntries([...honest.slice(0, 5).map(p => [p, 4]), ...contributors.map(p => [p, 5])]),
        blamed: [], missed: [], farGroupMembers: [], refused: [],
      })
    }
    return h
  }

  for (const t of [0, 4, 9]) {
    it(`after ${t} honest rounds: young weight is capped at ${PHI} and seats stay within the computed bound`, () => {
      const rep = computeReputation(after(t), members, { rampRounds: K, youngWeightCap: PHI, capTiers: 1, round: 20 + t })
      const uncapped = computeReputation(after(t), members, { rampRounds: K, youngWeightCap: 1, round: 20 + t })
      const yw = sybils.map(p => rep.get(p)!.weight)
      const ow = honest.map(p => rep.get(p)!.weight)
      const Y = yw.reduce((a, b) => a + b, 0)
      const O = ow.reduce((a, b) => a + b, 0)
      const Yu = sybils.reduce((a, p) => a + uncapped.get(p)!.weight, 0)
      assert.ok(Y / (Y + O) <= PHI * (1 + 1e-12), `young share ${Y / (Y + O)}`)
      if (Yu / (Yu + O) > PHI) assert.ok(Math.abs(Y / (Y + O) - PHI) < 1e-12, 'a binding cap gives exactly phi')
      else assert.equal(Y, Yu, 'a slack cap changes nothing')
      // Each Sybil alone has at most the ramp's share of a full weight.
      for (const w of yw) assert.ok(w <= ((t + 1) / (K + 1)) + 1e-12)

      const cands = committeeCandidates(rep)
      const m = 10
      const S = 400
      const bound = youngSeatBound(yw, ow, m)
      let seats = 0
      let seatsSq = 0
      let leaders = 0
      for (let s = 0; s < S; s++) {
        const c = selectCommittee(sha256(enc.encode(`sybil-seed-${t}-${s}`)), cands, m)
        const y = c.filter(p => sybils.includes(p)).length
        seats += y
        seatsSq += y * y
        if (sybils.includes(c[0]!)) leaders++
      }
      const mean = seats / S
      const se = Math.sqrt(Math.max(seatsSq / S - mean * mean, 1e-9) / S)
      assert.ok(mean <= bound + 4 * se, `mean young seats ${mean} > bound ${bound} + 4 se (${se})`)
      assert.ok(bound <= 1.5, `bound ${bound} of ${m} seats`)
      // m = 1 (the leader): probability exactly Y / (Y + O) <= phi.
      const p = Y / (Y + O)
      assert.ok(leaders <= S * p + 4.5 * Math.sqrt(S * p * (1 - p)), `leaders ${leaders}/${S} vs p ${p}`)
    })
  }

  it('without the cap the same burst takes several times more weight (the cap is what binds)', () => {
    const capped = computeReputation(after(9), members, { rampRounds: K, youngWeightCap: PHI, round: 29 })
    const free = computeReputation(after(9), members, { rampRounds: K, youngWeightCap: 1, round: 29 })
    const share = (rep: typeof capped): number => {
      const y = sybils.reduce((a, p) => a + rep.get(p)!.weight, 0)
      const o = honest.reduce((a, p) => a + rep.get(p)!.weight, 0)
      return y / (y + o)
    }
    assert.ok(share(free) > 5 * share(capped), `${share(free)} vs ${share(capped)}`)
  })

  it('tiers: after t honest rounds the burst holds at most (floor(t/K) + 1) phi of the weight, until the T tiers run out', () => {
    const T = 5
    const share = (t: number): number => {
      const rep = computeReputation(after(t), members, { rampRounds: K, youngWeightCap: PHI, capTiers: T, round: 20 + t })
      const y = sybils.reduce((a, p) => a + rep.get(p)!.weight, 0)
      const o = honest.reduce((a, p) => a + rep.get(p)!.weight, 0)
      return y / (y + o)
    }
    for (const t of [0, 5, 10, 15, 20, 29, 30, 39, 45]) {
      const tier = Math.floor(t / K) + 1
      assert.ok(share(t) <= tier * PHI * (1 + 1e-12), `t=${t}: share ${share(t)} > ${tier * PHI}`)
    }
    // Documented limit: after T*K honest rounds the burst is indistinguishable from
    // veterans and holds its numbers' share (100 of 130). Only admission control
    // (consortium mode) or a cost per identity can go further.
    assert.ok(share(T * K + 2) > 0.6)
  })
})
