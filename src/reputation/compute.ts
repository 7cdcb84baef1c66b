/**
 * Reputation as a pure, deterministic function of the ledger's round evidence
 * (DESIGN.md "Reputation"). Formula, defaults and the Sybil-throttle bound are in
 * docs/architecture/reputation.md; in short:
 *
 *   per round x, per peer:  p_x = reward * delivered fraction (0 if blamed or refused)
 *                           n_x = blame*[blamed] + missed*[missed] + refused*[refused] + far*[far group]
 *   r = sum_x lambda^(R-1-x) p_x,   s = sum_x lambda^(R-1-x) n_x          (R = the round being served)
 *   score = (r + 1) / (r + s + 2)
 *
 * which is the expectation of the Beta(r + 1, s + 1) posterior with forgetting
 * factor lambda of A. Josang and R. Ismail, "The Beta Reputation System", 15th Bled
 * Electronic Commerce Conference, 2002 (eq. 2 and section 4).
 *
 * Committee weight = ramp * (score - minScore) / (1 - minScore) for eligible peers,
 * ramp = min(1, (h + 1) / (K + 1)) with h the peer's honest rounds. Sybil throttle:
 * identities with h < jK together hold at most j*phi of all weight (j = 1..T).
 * Equivocators are excluded for ever.
 *
 * `ReputationAccumulator` keeps r, s and h per peer from round to round, so a ledger
 * that verifies every checkpoint pays O(peers) per round instead of recomputing the
 * whole history; `computeReputation` is built on it, so both give the same bits.
 *
 * Determinism: only +, -, *, / (correctly rounded IEEE 754 on every engine; no
 * Math.pow/exp/log), peers processed in peer-id order, rounds in round order, and
 * sums over peers taken in peer-id order. Equal inputs give equal bits everywhere.
 */
import { InvalidParametersError } from '../util/errors.ts'
import { assertPeerId, comparePeerIds } from './peer-id.ts'
import { resolveReputationParams, type ReputationParams } from './params.ts'
import type { MemberInfo, PeerReputation, RoundEvidence } from './types.ts'

/** Bounds that keep hostile inputs finite. */
export const MAX_MEMBERS = 1_000_000
export const MAX_HISTORY = 10_000_000
export const MAX_DELIVERED = 0xffffffff

/** A peer's accumulated evidence. */
type PeerState = {
  r: number
  s: number
  /** Round up to which r and s are decayed (lazy decay), or -1 if never touched. */
  at: number
  honestRounds: number
}

/** lambda^k for an integer k >= 0 by square-and-multiply: a fixed sequence of products. */
export function powInt(lambda: number, k: number): number {
  let result = 1
  let base = lambda
  let e = k
  while (e > 0) {
    if (e % 2 === 1) result *= base
    base *= base
    e = Math.floor(e / 2)
  }
  return result
}

function isRound(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/** Validated members, keyed and iterated in peer-id order. */
function validateMembers(members: ReadonlyArray<MemberInfo>): Map<string, MemberInfo> {
  if (!Array.isArray(members)) throw new InvalidParametersError('members must be an array')
  if (members.length > MAX_MEMBERS) throw new InvalidParametersError(`at most ${MAX_MEMBERS} members, got ${members.length}`)
  const sorted: MemberInfo[] = []
  const seen = new Set<string>()
  for (let i = 0; i < members.length; i++) {
    const m = members[i]
    if (m === null || typeof m !== 'object') throw new InvalidParametersError(`members[${i}] must be an object`)
    assertPeerId(m.peer, `members[${i}].peer`)
    if (seen.has(m.peer)) throw new InvalidParametersError(`members[${i}]: duplicate peer ${m.peer}`)
    seen.add(m.peer)
    if (!isRound(m.joinedRound)) throw new InvalidParametersError(`members[${i}].joinedRound must be an integer >= 0, got ${String(m.joinedRound)}`)
    if (m.excludedAtRound !== undefined && !isRound(m.excludedAtRound)) {
      throw new InvalidParametersError(`members[${i}].excludedAtRound must be an integer >= 0 or absent, got ${String(m.excludedAtRound)}`)
    }
    sorted.push(m)
  }
  sorted.sort((a, b) => comparePeerIds(a.peer, b.peer))
  return new Map(sorted.map(m => [m.peer, m]))
}

/** A validated list of distinct members of the network, as a set. */
function peerSet(list: unknown, where: string, members: Map<string, MemberInfo>, round: number): Set<string> {
  if (!Array.isArray(list)) throw new InvalidParametersError(`${where} must be an array`)
  if (list.length > MAX_MEMBERS) throw new InvalidParametersError(`${where}: at most ${MAX_MEMBERS} entries`)
  const out = new Set<string>()
  for (let i = 0; i < list.length; i++) {
    const p: unknown = list[i]
    assertPeerId(p, `${where}[${i}]`)
    if (out.has(p)) throw new InvalidParametersError(`${where}: duplicate peer ${p}`)
    const info = members.get(p)
    if (info === undefined) throw new InvalidParametersError(`${where}: ${p} is not a member`)
    if (round < info.joinedRound) throw new InvalidParametersError(`${where}: ${p} joined in round ${info.joinedRound}, after round ${round}`)
    out.add(p)
  }
  return out
}

type CheckedRound = {
  round: number
  committee: Set<string>
  contributors: Set<string>
  delivered: Map<string, number>
  blamed: Set<string>
  missed: Set<string>
  far: Set<string>
  refused: Set<string>
}

function validateRound(e: RoundEvidence, where: string, members: Map<string, MemberInfo>): CheckedRound {
  if (e === null || typeof e !== 'object') throw new InvalidParametersError(`${where} must be an object`)
  if (!isRound(e.round)) throw new InvalidParametersError(`${where}.round must be an integer >= 0, got ${String(e.round)}`)
  const round = e.round
  const d = e.delivered
  if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new InvalidParametersError(`${where}.delivered must be an object`)
  const delivered = new Map<string, number>()
  const keys = Object.keys(d)
  if (keys.length > MAX_MEMBERS) throw new InvalidParametersError(`${where}.delivered: at most ${MAX_MEMBERS} entries`)
  // The key set is validated like a list of peers (own enumerable keys only, so a
  // '__proto__' or inherited key is rejected or ignored, never trusted).
  peerSet(keys, `${where}.delivered`, members, round)
  for (const k of keys) {
    const v: unknown = d[k]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_DELIVERED) {
      throw new InvalidParametersError(`${where}.delivered[${k}] must be an integer in [0, ${MAX_DELIVERED}], got ${String(v)}`)
    }
    delivered.set(k, v)
  }
  return {
    round,
    committee: peerSet(e.committee, `${where}.committee`, members, round),
    contributors: peerSet(e.contributors, `${where}.contributors`, members, round),
    delivered,
    blamed: peerSet(e.blamed, `${where}.blamed`, members, round),
    missed: peerSet(e.missed, `${where}.missed`, members, round),
    far: peerSet(e.farGroupMembers, `${where}.farGroupMembers`, members, round),
    refused: peerSet(e.refused, `${where}.refused`, members, round),
  }
}

/** Role class of a peer in a round: 1 = contributor, 2 = committee member, 3 = both, 0 = neither. */
function roleOf(ev: CheckedRound, p: string): number {
  return (ev.contributors.has(p) ? 1 : 0) | (ev.committee.has(p) ? 2 : 0)
}

function applyRound(ev: CheckedRound, states: Map<string, PeerState>, P: ReputationParams): void {
  // The peers this round says anything about, in peer-id order.
  const touched = new Set<string>([...ev.committee, ...ev.contributors, ...ev.delivered.keys(), ...ev.blamed, ...ev.missed, ...ev.far, ...ev.refused])
  const peers = [...touched].sort(comparePeerIds)
  // Full delivery for a role class is what its best member delivered this round:
  // every contributor owes m shares, every member the same number of partial sums,
  // so the best of a class is the class's quota without the ledger having to state it.
  const expected = [0, 0, 0, 0]
  for (const p of peers) {
    const role = roleOf(ev, p)
    const dlv = ev.delivered.get(p) ?? 0
    if (dlv > expected[role]!) expected[role] = dlv
  }
  for (const p of peers) {
    let st = states.get(p)
    if (st === undefined) {
      st = { r: 0, s: 0, at: -1, honestRounds: 0 }
      states.set(p, st)
    }
    // Lazy decay: bring r and s from the peer's last round to this one.
    if (st.at >= 0) {
      const f = powInt(P.decay, ev.round - st.at)
      st.r *= f
      st.s *= f
    }
    st.at = ev.round
    const role = roleOf(ev, p)
    const blamed = ev.blamed.has(p)
    const refused = ev.refused.has(p)
    const missed = ev.missed.has(p)
    let pos = 0
    if (role !== 0 && !blamed && !refused && expected[role]! > 0) {
      const dlv = ev.delivered.get(p) ?? 0
      pos = P.participationReward * (dlv >= expected[role]! ? 1 : dlv / expected[role]!)
    }
    let neg = 0
    if (blamed) neg += P.blamePenalty
    if (missed) neg += P.missedPenalty
    if (refused) neg += P.refusedPenalty
    if (ev.far.has(p)) neg += P.farGroupPenalty
    st.r += pos
    st.s += neg
    // Far-group membership is statistical evidence that honest peers also collect
    // (they share groups with attackers), so it slows nothing but the score.
    if (pos > 0 && !missed) st.honestRounds++
  }
}

/** Scores, weights and eligibility of `members` for the committee of round `now`. Reads `states` only. */
function snapshotOf(states: Map<string, PeerState>, members: Map<string, MemberInfo>, now: number, P: ReputationParams): Map<string, PeerReputation> {
  const K = P.rampRounds
  const raw: Array<{ peer: string, score: number, weight: number, eligible: boolean, honestRounds: number }> = []
  for (const [peer, info] of members) {
    const st = states.get(peer)
    let r = 0
    let s = 0
    let h = 0
    if (st !== undefined && st.at >= 0) {
      // Evidence from round x weighs lambda^(now - 1 - x).
      const f = powInt(P.decay, now - 1 - st.at)
      r = st.r * f
      s = st.s * f
      h = st.honestRounds
    }
    const score = (r + 1) / (r + s + 2)
    const excluded = info.excludedAtRound !== undefined && info.excludedAtRound < now
    const eligible = !excluded && score >= P.minScore
    const ramp = h >= K ? 1 : (h + 1) / (K + 1)
    const weight = eligible ? ramp * ((score - P.minScore) / (1 - P.minScore)) : 0
    raw.push({ peer, score, weight, eligible, honestRounds: h })
  }

  // Sybil throttle, in tiers: for j = 1..T, identities with fewer than j*K honest
  // rounds together hold at most j*phi of all weight (T = 1 is the plain cap on the
  // young). Scaling such a set A_j by c = j phi B / ((1 - j phi) A_j) gives exactly
  // c A_j / (c A_j + B) = j phi; it never loosens an earlier tier, because the
  // earlier tier is scaled by the same c while the rest of its complement shrinks by
  // at most c. With nothing outside a tier (B = 0, e.g. a network's first K rounds)
  // there is nothing to protect and nothing to scale against, so that tier is free.
  const phi = P.youngWeightCap
  for (let j = 1; j <= P.capTiers && K > 0; j++) {
    const capShare = j * phi
    if (capShare >= 1) break
    const below = j * K
    let a = 0
    let b = 0
    for (const x of raw) {
      if (x.honestRounds < below) a += x.weight
      else b += x.weight
    }
    if (b > 0 && a > 0 && a > capShare * (a + b)) {
      const c = (capShare * b) / ((1 - capShare) * a)
      for (const x of raw) if (x.honestRounds < below) x.weight *= c
    }
  }
  const out = new Map<string, PeerReputation>()
  for (const x of raw) out.set(x.peer, { score: x.score, weight: x.weight, eligible: x.eligible })
  return out
}

/**
 * Incremental reputation: add each checkpointed round's evidence once, take a
 * snapshot for any later round. `snapshot` after adding rounds x_1 < ... < x_k
 * returns exactly the bits `computeReputation([x_1..x_k], members, params)` does.
 */
export class ReputationAccumulator {
  readonly params: Readonly<ReputationParams>
  private readonly states = new Map<string, PeerState>()
  private last = -1

  constructor(params?: Partial<ReputationParams>) {
    this.params = resolveReputationParams(params)
  }

  /** The last round added, or -1. */
  get lastRound(): number {
    return this.last
  }

  /**
   * Add one round's evidence; `members` are those the ledger knows at that round (every
   * peer the evidence names must be one, joined no later than the round). Rounds must
   * be added in strictly increasing order. Throws InvalidParametersError / InvalidPeerIdError
   * and leaves the accumulator unchanged on any error.
   */
  addRound(evidence: RoundEvidence, members: ReadonlyArray<MemberInfo>): void {
    const ev = validateRound(evidence, 'evidence', validateMembers(members))
    if (ev.round <= this.last) throw new InvalidParametersError(`round ${ev.round} added after round ${this.last}; rounds must increase`)
    this.last = ev.round
    applyRound(ev, this.states, this.params)
  }

  /** Reputation of `members` for the committee of `round` (default: params.round, else last round + 1). */
  snapshot(members: ReadonlyArray<MemberInfo>, round?: number): Map<string, PeerReputation> {
    const now = round ?? this.params.round ?? this.last + 1
    if (!isRound(now)) throw new InvalidParametersError(`round must be an integer >= 0, got ${String(now)}`)
    if (this.last >= now) throw new InvalidParametersError(`evidence for round ${this.last} cannot inform the committee of round ${now}`)
    return snapshotOf(this.states, validateMembers(members), now, this.params)
  }
}

/**
 * Reputation of every member for the committee of round `params.round` (default:
 * one past the last round of `history`). Pure and deterministic: equal inputs give
 * equal bits on every platform. The returned map lists members in peer-id order.
 *
 * Throws InvalidParametersError for malformed, duplicate, out-of-order-in-time or
 * unknown-peer evidence and bad parameters, InvalidPeerIdError for malformed ids.
 */
export function computeReputation(history: ReadonlyArray<RoundEvidence>, members: ReadonlyArray<MemberInfo>, params?: Partial<ReputationParams>): Map<string, PeerReputation> {
  const P = resolveReputationParams(params)
  const mem = validateMembers(members)
  if (!Array.isArray(history)) throw new InvalidParametersError('history must be an array')
  if (history.length > MAX_HISTORY) throw new InvalidParametersError(`at most ${MAX_HISTORY} rounds of history, got ${history.length}`)
  const rounds = history.map((e, i) => validateRound(e, `history[${i}]`, mem))
  rounds.sort((a, b) => a.round - b.round)
  for (let i = 1; i < rounds.length; i++) {
    if (rounds[i]!.round === rounds[i - 1]!.round) throw new InvalidParametersError(`two evidence records for round ${rounds[i]!.round}`)
  }
  const last = rounds.length > 0 ? rounds[rounds.length - 1]!.round : -1
  const now = P.round ?? last + 1
  if (last >= now) throw new InvalidParametersError(`evidence for round ${last} cannot inform the committee of round ${now}`)
  const states = new Map<string, PeerState>()
  for (const ev of rounds) applyRound(ev, states, P)
  return snapshotOf(states, mem, now, P)
}

/** The committee candidates of a reputation map: eligible peers of positive weight, in peer-id order. */
export function committeeCandidates(reputation: ReadonlyMap<string, PeerReputation>): Array<{ peer: string, weight: number }> {
  const out: Array<{ peer: string, weight: number }> = []
  for (const [peer, rep] of reputation) if (rep.eligible && rep.weight > 0) out.push({ peer, weight: rep.weight })
  return out.sort((a, b) => comparePeerIds(a.peer, b.peer))
}
