import assert from 'node:assert/strict'
import fc from 'fast-check'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  computeReputation, committeeCandidates, resolveReputationParams, DEFAULT_REPUTATION_PARAMS, ReputationAccumulator,
  type MemberInfo, type RoundEvidence, type PeerReputation,
} from '../../src/reputation/index.ts'

const enc = new TextEncoder()
const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
const pid = (i: number | string): string => hex(sha256(enc.encode(`peer-${i}`)))

const N = 6
const P = Array.from({ length: N }, (_, i) => pid(i))
const MEMBERS: MemberInfo[] = P.map(peer => ({ peer, joinedRound: 0 }))

function ev(round: number, part: Partial<RoundEvidence> = {}): RoundEvidence {
  return { round, committee: [], contributors: [], delivered: {}, blamed: [], missed: [], farGroupMembers: [], refused: [], ...part }
}

/** A random history over the N peers: distinct rounds in [0, 8), random roles and evidence. */
const arbRound = (round: number): fc.Arbitrary<RoundEvidence> => fc.record({
  committee: fc.subarray(P),
  contributors: fc.subarray(P),
  deliveredPeers: fc.subarray(P),
  counts: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: N, maxLength: N }),
  blamed: fc.subarray(P),
  missed: fc.subarray(P),
  farGroupMembers: fc.subarray(P),
  refused: fc.subarray(P),
}).map(({ deliveredPeers, counts, ...rest }) => ({
  round,
  ...rest,
  delivered: Object.fromEntries(deliveredPeers.map(p => [p, counts[P.indexOf(p)]!])),
}))
const arbHistory: fc.Arbitrary<RoundEvidence[]> = fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 6 })
  .chain(rounds => fc.tuple(...rounds.map(arbRound)))
  .map(rs => rs as RoundEvidence[])
const arbPeer = fc.integer({ min: 0, max: N - 1 }).map(i => P[i]!)

const score = (h: RoundEvidence[], p: string, params?: object): number => computeReputation(h, MEMBERS, { round: 8, ...params }).get(p)!.score

/** Deep copy with one round's list edited (adding p if missing). */
function withAdded(h: RoundEvidence[], idx: number, list: 'blamed' | 'missed' | 'farGroupMembers' | 'refused', p: string): RoundEvidence[] {
  return h.map((e, i) => (i === idx && !e[list].includes(p) ? { ...e, [list]: [...e[list], p] } : e))
}

function bits(m: Map<string, PeerReputation>): string {
  const v = new DataView(new ArrayBuffer(8))
  const f = (x: number): string => { v.setFloat64(0, x); return v.getBigUint64(0).toString(16) }
  return [...m].map(([k, r]) => `${k}:${f(r.score)}:${f(r.weight)}:${r.eligible}`).join('|')
}

describe('reputation: Beta score (Josang and Ismail 2002) with forgetting', () => {
  it('a peer with no evidence scores the uniform prior 0.5', () => {
    const rep = computeReputation([], MEMBERS)
    for (const p of P) assert.equal(rep.get(p)!.score, 0.5)
  })

  it('analytic vector: lambda = 1/2, full delivery in round 0, blamed in round 1 -> (0.5 + 1) / (0.5 + 8 + 2) = 1/7', () => {
    const h = [
      ev(0, { contributors: [P[0]!], delivered: { [P[0]!]: 3 } }),
      ev(1, { committee: [P[0]!], delivered: { [P[0]!]: 2 }, blamed: [P[0]!] }),
    ]
    const rep = computeReputation(h, MEMBERS, { decay: 0.5, blamePenalty: 8 })
    assert.equal(rep.get(P[0]!)!.score, 1 / 7)
    assert.equal(rep.get(P[0]!)!.eligible, false, '1/7 < minScore 0.3')
    assert.equal(rep.get(P[0]!)!.weight, 0)
  })

  it('analytic vector: partial delivery earns the delivered fraction of the reward, decayed by lambda^(R-1-x)', () => {
    // Two contributors; the best delivered 4 shares, P1 delivered 1: r1 = 1/4.
    // Served round R = 3, evidence in round 0: factor (1/2)^2.
    const h = [ev(0, { contributors: [P[0]!, P[1]!], delivered: { [P[0]!]: 4, [P[1]!]: 1 } })]
    const rep = computeReputation(h, MEMBERS, { decay: 0.5, round: 3 })
    assert.equal(rep.get(P[0]!)!.score, (0.25 + 1) / (0.25 + 2))
    assert.equal(rep.get(P[1]!)!.score, (0.0625 + 1) / (0.0625 + 2))
  })

  it('roles are judged separately: members against members, contributors against contributors', () => {
    const h = [ev(0, {
      committee: [P[0]!, P[1]!], contributors: [P[2]!, P[3]!],
      delivered: { [P[0]!]: 2, [P[1]!]: 2, [P[2]!]: 5, [P[3]!]: 5 },
    })]
    const rep = computeReputation(h, MEMBERS, { decay: 1 })
    for (const i of [0, 1, 2, 3]) assert.equal(rep.get(P[i]!)!.score, 2 / 3)
    assert.equal(rep.get(P[4]!)!.score, 0.5)
  })

  for (const list of ['blamed', 'missed', 'farGroupMembers', 'refused'] as const) {
    it(`property: being ${list} strictly lowers the score, and leaves every other peer's score unchanged`, () => {
      fc.assert(fc.property(arbHistory.filter(h => h.length > 0), fc.nat(), arbPeer, (h, k, p) => {
        const idx = k % h.length
        fc.pre(!h[idx]![list].includes(p))
        const before = computeReputation(h, MEMBERS, { round: 8 })
        const after = computeReputation(withAdded(h, idx, list, p), MEMBERS, { round: 8 })
        assert.ok(after.get(p)!.score < before.get(p)!.score, `${before.get(p)!.score} -> ${after.get(p)!.score}`)
        for (const q of P) if (q !== p) assert.equal(after.get(q)!.score, before.get(q)!.score)
      }), { numRuns: 150, seed: 21 })
    })
  }

  it('property: delivering more never lowers the score, and raises it while below the role quota', () => {
    fc.assert(fc.property(arbHistory.filter(h => h.length > 0), fc.nat(), arbPeer, fc.integer({ min: 1, max: 4 }), (h, k, p, more) => {
      const idx = k % h.length
      const e = h[idx]!
      const was = e.delivered[p] ?? 0
      const h2 = h.map((x, i) => (i === idx ? { ...x, delivered: { ...x.delivered, [p]: was + more } } : x))
      const s1 = score(h, p)
      const s2 = score(h2, p)
      assert.ok(s2 >= s1, `${s1} -> ${s2}`)
      const hasRole = e.committee.includes(p) || e.contributors.includes(p)
      const credited = !e.blamed.includes(p) && !e.refused.includes(p)
      // Quota of p's role class = the best delivery among the peers sharing its roles.
      const sameRole = P.filter(q => e.committee.includes(q) === e.committee.includes(p) && e.contributors.includes(q) === e.contributors.includes(p))
      const quota = Math.max(0, ...sameRole.map(q => e.delivered[q] ?? 0))
      if (hasRole && credited && was < quota) assert.ok(s2 > s1, `below quota ${was}/${quota}: ${s1} -> ${s2}`)
    }), { numRuns: 200, seed: 22 })
  })

  it('property: forgetting pulls every score toward 0.5 as rounds pass; lambda = 1 forgets nothing', () => {
    fc.assert(fc.property(arbHistory, fc.integer({ min: 1, max: 50 }), (h, d) => {
      const a = computeReputation(h, MEMBERS, { round: 8 })
      const b = computeReputation(h, MEMBERS, { round: 8 + d })
      const a1 = computeReputation(h, MEMBERS, { round: 8, decay: 1 })
      const b1 = computeReputation(h, MEMBERS, { round: 8 + d, decay: 1 })
      for (const p of P) {
        assert.ok(Math.abs(b.get(p)!.score - 0.5) <= Math.abs(a.get(p)!.score - 0.5) + 1e-15)
        assert.equal(b1.get(p)!.score, a1.get(p)!.score)
      }
    }), { numRuns: 100, seed: 23 })
  })

  it('decay: a blame fades, so a peer that then behaves regains eligibility (and an honest peer does not lose it)', () => {
    const h: RoundEvidence[] = [ev(0, { committee: [P[0]!], delivered: { [P[0]!]: 1 }, blamed: [P[0]!] })]
    assert.equal(computeReputation(h, MEMBERS).get(P[0]!)!.eligible, false)
    let r = 1
    for (; r < 40; r++) {
      h.push(ev(r, { contributors: [P[0]!, P[1]!], delivered: { [P[0]!]: 3, [P[1]!]: 3 } }))
      if (computeReputation(h, MEMBERS).get(P[0]!)!.eligible) break
    }
    assert.ok(r > 3 && r < 12, `eligible again after ${r} honest rounds`)
    // A recent blame weighs more than the same blame long ago.
    const old = computeReputation([ev(0, { blamed: [P[2]!] })], MEMBERS, { round: 30 }).get(P[2]!)!.score
    const recent = computeReputation([ev(0, { blamed: [P[2]!] })], MEMBERS, { round: 1 }).get(P[2]!)!.score
    assert.ok(recent < old && old < 0.5)
  })

  it('a persistent attacker in far groups ends below honest peers that only sometimes share its group', () => {
    // 12 contributors, one attacker always far; each honest peer is far 1 round in 4.
    const ps = Array.from({ length: 12 }, (_, i) => pid(`far-${i}`))
    const mem = ps.map(peer => ({ peer, joinedRound: 0 }))
    const hist = Array.from({ length: 40 }, (_, r) => ev(r, {
      contributors: ps, delivered: Object.fromEntries(ps.map(p => [p, 3])),
      farGroupMembers: [ps[0]!, ...ps.filter((_, i) => i > 0 && (i + r) % 4 === 0)],
    }))
    const rep = computeReputation(hist, mem)
    const att = rep.get(ps[0]!)!
    for (const p of ps.slice(1)) assert.ok(rep.get(p)!.weight > 1.5 * att.weight, `${rep.get(p)!.weight} vs attacker ${att.weight}`)
  })
})

describe('reputation: eligibility, weight, exclusion', () => {
  it('weight = ramp * (score - minScore) / (1 - minScore): a fresh identity starts at 1/(K+1) of it', () => {
    const rep = computeReputation([], MEMBERS)
    const { minScore, rampRounds } = DEFAULT_REPUTATION_PARAMS
    assert.equal(rep.get(P[0]!)!.weight, (1 / (rampRounds + 1)) * ((0.5 - minScore) / (1 - minScore)))
    assert.equal(rep.get(P[0]!)!.eligible, true)
  })

  it('new identities earn weight slowly: after t honest rounds at most (t+1)/(K+1) of a veteran with the same score', () => {
    const K = 5
    const veteran = pid('vet')
    const fresh = pid('fresh')
    const mem = [{ peer: veteran, joinedRound: 0 }, { peer: fresh, joinedRound: 0 }]
    const h: RoundEvidence[] = []
    for (let t = 0; t <= K + 2; t++) {
      const rep = computeReputation(h, mem, { rampRounds: K, youngWeightCap: 1, round: t + 100 })
      const f = rep.get(fresh)!
      // The veteran's weight for the same score: (score - minScore) / (1 - minScore).
      const full = (f.score - 0.3) / 0.7
      assert.ok(Math.abs(f.weight - Math.min(1, (t + 1) / (K + 1)) * full) < 1e-12, `t=${t}: ${f.weight} vs ${full}`)
      h.push(ev(t + 90, { contributors: [fresh], delivered: { [fresh]: 1 } }))
    }
  })

  it('equivocators: weight 0, ineligible, whatever their record, for every round after the proof', () => {
    fc.assert(fc.property(arbHistory, arbPeer, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 8, max: 100 }), (h, p, at, round) => {
      const mem = MEMBERS.map(m => (m.peer === p ? { ...m, excludedAtRound: at } : m))
      const r = computeReputation(h, mem, { round }).get(p)!
      assert.equal(r.eligible, false)
      assert.equal(r.weight, 0)
      assert.ok(!committeeCandidates(computeReputation(h, mem, { round })).some(c => c.peer === p))
    }), { numRuns: 100, seed: 24 })
  })

  it('an exclusion recorded at or after the round served does not rewrite history (replays agree)', () => {
    fc.assert(fc.property(arbHistory, arbPeer, fc.integer({ min: 8, max: 20 }), (h, p, at) => {
      const mem = MEMBERS.map(m => (m.peer === p ? { ...m, excludedAtRound: at } : m))
      assert.equal(bits(computeReputation(h, mem, { round: 8 })), bits(computeReputation(h, MEMBERS, { round: 8 })))
    }), { numRuns: 50, seed: 25 })
  })

  it('committeeCandidates lists eligible peers of positive weight in peer-id order', () => {
    const h = [ev(0, { blamed: [P[1]!] })]
    const c = committeeCandidates(computeReputation(h, MEMBERS))
    assert.ok(!c.some(x => x.peer === P[1]))
    assert.equal(c.length, N - 1)
    assert.deepEqual(c.map(x => x.peer), c.map(x => x.peer).slice().sort())
  })
})

describe('reputation: determinism', () => {
  it('property: identical bits whatever the order of members, rounds and list entries', () => {
    fc.assert(fc.property(arbHistory, fc.integer({ min: 0, max: 1000 }), (h, salt) => {
      const rot = <T>(xs: T[], k: number): T[] => (xs.length ? [...xs.slice(k % xs.length), ...xs.slice(0, k % xs.length)] : xs)
      const h2 = rot(h, salt).map((e, i) => ({
        ...e,
        committee: rot(e.committee, salt + i), contributors: rot(e.contributors, salt + 2 * i).reverse(),
        blamed: e.blamed.slice().reverse(), missed: rot(e.missed, i), farGroupMembers: e.farGroupMembers.slice().reverse(), refused: rot(e.refused, salt),
        delivered: Object.fromEntries(Object.entries(e.delivered).reverse()),
      }))
      const m2 = rot(MEMBERS, salt).reverse()
      const a = computeReputation(h, MEMBERS, { round: 8 })
      const b = computeReputation(h2, m2, { round: 8 })
      assert.equal(bits(a), bits(b))
      assert.deepEqual([...a.keys()], P.slice().sort())
    }), { numRuns: 150, seed: 26 })
  })

  it('pinned vector: exact bits of a fixed scenario (guards cross-version and cross-platform drift)', () => {
    const h = [
      ev(0, { committee: [P[0]!, P[1]!], contributors: [P[2]!, P[3]!, P[4]!], delivered: { [P[0]!]: 2, [P[1]!]: 1, [P[2]!]: 2, [P[3]!]: 2, [P[4]!]: 2 }, farGroupMembers: [P[2]!] }),
      ev(2, { committee: [P[2]!, P[3]!], contributors: [P[0]!, P[1]!, P[5]!], delivered: { [P[2]!]: 3, [P[3]!]: 3, [P[0]!]: 2, [P[1]!]: 2 }, missed: [P[5]!], refused: [P[1]!] }),
    ]
    // Every tunable spelled out, so that retuning the defaults does not move the vector.
    const got = computeReputation(h, MEMBERS, {
      round: 5, rampRounds: 1, youngWeightCap: 0.2, decay: 0.95, participationReward: 1,
      blamePenalty: 8, missedPenalty: 1, refusedPenalty: 2, farGroupPenalty: 1, minScore: 0.3, capTiers: 5,
    })
    assert.equal(bits(got), PINNED_BITS)
    // Cross-check one entry by hand: P0 earns a full reward in rounds 0 and 2 and
    // nothing negative; served round 5: r = 0.95^4 + 0.95^2.
    const r0 = 0.95 ** 4 + 0.95 ** 2
    assert.ok(Math.abs(got.get(P[0]!)!.score - (r0 + 1) / (r0 + 2)) < 1e-15)
  })
})

/** Computed once by this implementation on V8; the formula uses only + - * /, so any correct engine must match. */
const PINNED_BITS = [
  '08694704ebd6225ea1e94dd3337d281de5211716e7eb018d5bf91257d749ef4d:3fe764136815fe96:3fe3b389701f6bb2:true',
  '37effc81d805811d59f99c1376b393b25529b7482c39ad866c49791b62dc44bb:3fd561a894ac2c07:3fa8ee6210d44053:true',
  '4640ed88237690cd19a0cf4cf5033821e38220e1da955ed9619c410812951727:3fe32fc3509e939e:3fdb63e4e6575ca0:true',
  '6c2ce8fb6e7ea5192e68b3a23f5bd4b77f03b15e5ab45475a53e466c8a9c447a:3fe764136815fe96:3fe3b389701f6bb2:true',
  '8e6f164db9ec8113c65e87a3ed85f0e63500b4655e1cc453d461b3a468f0784d:3fe4a15d79ee15b6:3fdf83e680f1629b:true',
  'd05da2d6ccea84709e05de2c1f6aaf23731bbd0389ff11bbf311b1d27b9a9a13:3fd60cc9fa445ad9:3fa049147186996c:true',
].join('|')

describe('reputation: incremental accumulator', () => {
  it('property: adding rounds one by one gives exactly the bits of computeReputation on every prefix', () => {
    fc.assert(fc.property(arbHistory, fc.integer({ min: 0, max: 3 }), fc.double({ min: 0.5, max: 1, noNaN: true }), (h, ahead, decay) => {
      const sorted = h.slice().sort((a, b) => a.round - b.round)
      const acc = new ReputationAccumulator({ decay, rampRounds: 2 })
      for (let i = 0; i < sorted.length; i++) {
        acc.addRound(sorted[i]!, MEMBERS)
        const round = sorted[i]!.round + 1 + ahead
        assert.equal(bits(acc.snapshot(MEMBERS, round)), bits(computeReputation(sorted.slice(0, i + 1), MEMBERS, { decay, rampRounds: 2, round })))
      }
      assert.equal(bits(acc.snapshot(MEMBERS)), bits(computeReputation(sorted, MEMBERS, { decay, rampRounds: 2 })))
    }), { numRuns: 100, seed: 28 })
  })

  it('members may grow between rounds; a snapshot covers exactly the members it is given', () => {
    const acc = new ReputationAccumulator()
    const early = MEMBERS.slice(0, 3)
    acc.addRound(ev(0, { contributors: [P[0]!], delivered: { [P[0]!]: 1 } }), early)
    const later = [...early, { peer: P[3]!, joinedRound: 1 }]
    acc.addRound(ev(1, { contributors: [P[0]!, P[3]!], delivered: { [P[0]!]: 1, [P[3]!]: 1 } }), later)
    const snap = acc.snapshot(later)
    assert.deepEqual([...snap.keys()], later.map(m => m.peer).sort())
    assert.equal(bits(snap), bits(computeReputation([ev(0, { contributors: [P[0]!], delivered: { [P[0]!]: 1 } }), ev(1, { contributors: [P[0]!, P[3]!], delivered: { [P[0]!]: 1, [P[3]!]: 1 } })], later)))
  })

  it('rejects rounds out of order, stale snapshots and bad evidence, and stays unchanged after an error', () => {
    const acc = new ReputationAccumulator()
    acc.addRound(ev(3, { contributors: [P[0]!], delivered: { [P[0]!]: 1 } }), MEMBERS)
    const before = bits(acc.snapshot(MEMBERS))
    const throwsName = (f: () => unknown, name: string): void => { assert.throws(f, (e: Error) => e.name === name) }
    throwsName(() => acc.addRound(ev(3), MEMBERS), 'InvalidParametersError')
    throwsName(() => acc.addRound(ev(2), MEMBERS), 'InvalidParametersError')
    throwsName(() => acc.addRound(ev(4, { blamed: [pid('stranger')] }), MEMBERS), 'InvalidParametersError')
    throwsName(() => acc.addRound(ev(4, { blamed: ['x'] }), MEMBERS), 'InvalidPeerIdError')
    throwsName(() => acc.snapshot(MEMBERS, 3), 'InvalidParametersError')
    throwsName(() => acc.snapshot(MEMBERS, -1), 'InvalidParametersError')
    throwsName(() => new ReputationAccumulator({ decay: 2 }), 'InvalidParametersError')
    assert.equal(acc.lastRound, 3)
    assert.equal(bits(acc.snapshot(MEMBERS)), before)
  })
})

describe('reputation: hostile inputs and parameters', () => {
  const throwsName = (f: () => unknown, name: string): void => {
    assert.throws(f, (e: Error) => e.name === name, `expected ${name}`)
  }

  it('parameters: defaults, merge, validate', () => {
    assert.deepEqual(resolveReputationParams(), { ...DEFAULT_REPUTATION_PARAMS })
    assert.equal(resolveReputationParams({ decay: 0.5 }).decay, 0.5)
    const bad: Array<Record<string, unknown>> = [
      { decay: 0 }, { decay: 1.5 }, { decay: NaN }, { decay: '0.9' }, { minScore: 1 }, { minScore: -0.1 },
      { rampRounds: -1 }, { rampRounds: 1.5 }, { rampRounds: 1e9 }, { youngWeightCap: 0 }, { youngWeightCap: 1.01 },
      { blamePenalty: -1 }, { missedPenalty: Infinity }, { participationReward: 1e7 }, { round: -1 }, { round: 0.5 }, { capTiers: 0 }, { capTiers: 1.5 }, { capTiers: 1e6 },
      { bogus: 1 },
    ]
    for (const b of bad) throwsName(() => computeReputation([], MEMBERS, b), 'InvalidParametersError')
    throwsName(() => computeReputation([], MEMBERS, [] as unknown as object), 'InvalidParametersError')
    throwsName(() => computeReputation([], MEMBERS, null as unknown as object), 'InvalidParametersError')
  })

  it('members: malformed ids, duplicates, bad rounds', () => {
    throwsName(() => computeReputation([], [{ peer: 'AB', joinedRound: 0 }]), 'InvalidPeerIdError')
    throwsName(() => computeReputation([], [{ peer: P[0]!.toUpperCase(), joinedRound: 0 }]), 'InvalidPeerIdError')
    throwsName(() => computeReputation([], [MEMBERS[0]!, MEMBERS[0]!]), 'InvalidParametersError')
    throwsName(() => computeReputation([], [{ peer: P[0]!, joinedRound: -1 }]), 'InvalidParametersError')
    throwsName(() => computeReputation([], [{ peer: P[0]!, joinedRound: NaN }]), 'InvalidParametersError')
    throwsName(() => computeReputation([], [{ peer: P[0]!, joinedRound: 0, excludedAtRound: 1.5 }]), 'InvalidParametersError')
    throwsName(() => computeReputation([], 'x' as unknown as MemberInfo[]), 'InvalidParametersError')
    throwsName(() => computeReputation([], [null as unknown as MemberInfo]), 'InvalidParametersError')
  })

  it('evidence: unknown peers, duplicates, future or pre-join rounds, bad counts, prototype keys', () => {
    const bad: RoundEvidence[][] = [
      [ev(0, { blamed: [pid('stranger')] })],
      [ev(0, { blamed: [P[0]!, P[0]!] })],
      [ev(0), ev(0)],
      [ev(-1)],
      [ev(1.5)],
      [ev(0, { delivered: { [P[0]!]: -1 } })],
      [ev(0, { delivered: { [P[0]!]: 1.5 } })],
      [ev(0, { delivered: { [P[0]!]: NaN } })],
      [ev(0, { delivered: { [P[0]!]: 2 ** 40 } })],
      [ev(0, { delivered: [] as unknown as Record<string, number> })],
      [ev(0, { committee: 'x' as unknown as string[] })],
      [null as unknown as RoundEvidence],
    ]
    for (const h of bad) throwsName(() => computeReputation(h, MEMBERS), 'InvalidParametersError')
    throwsName(() => computeReputation([ev(0, { missed: ['nothex'] })], MEMBERS), 'InvalidPeerIdError')
    throwsName(() => computeReputation([ev(0, { delivered: JSON.parse('{"__proto__": 1}') })], MEMBERS), 'InvalidPeerIdError')
    throwsName(() => computeReputation([ev(5)], MEMBERS, { round: 5 }), 'InvalidParametersError')
    throwsName(() => computeReputation([ev(2, { contributors: [P[0]!] })], [{ peer: P[0]!, joinedRound: 3 }]), 'InvalidParametersError')
  })

  it('fuzz: arbitrary values return a reputation map or throw a TesseraError, never anything else', () => {
    const names = new Set(['InvalidParametersError', 'InvalidPeerIdError'])
    const arbEv = fc.oneof(arbRound(0), fc.anything(), fc.record({ round: fc.anything(), committee: fc.anything(), contributors: fc.array(fc.oneof(fc.constantFrom(...P), fc.string())), delivered: fc.dictionary(fc.oneof(fc.constantFrom(...P), fc.string()), fc.anything()), blamed: fc.anything(), missed: fc.constant([]), farGroupMembers: fc.constant([]), refused: fc.constant([]) }))
    fc.assert(fc.property(fc.array(arbEv, { maxLength: 3 }), fc.oneof(fc.constant(MEMBERS), fc.anything()), fc.oneof(fc.constant(undefined), fc.dictionary(fc.constantFrom('decay', 'minScore', 'round', 'x'), fc.anything())), (h, m, params) => {
      try {
        computeReputation(h as RoundEvidence[], m as MemberInfo[], params as object)
      } catch (e) {
        assert.ok(names.has((e as Error).name), `unexpected ${(e as Error).name}: ${(e as Error).message}`)
      }
    }), { numRuns: 400, seed: 27 })
  })
})
