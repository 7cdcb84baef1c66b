/**
 * The ledger's evidence of a harness round and the reputation it earns
 * (src/reputation), plus the censorship audit the ledger does not do yet.
 *
 * `roundEvidence` builds the RoundEvidence E's LedgerState derives from a
 * checkpoint (src/ledger/state.ts `checkCheckpoint`): contributors = the plan's
 * groups; delivered = per receipt, +|acknowledged| for the member and +1 for
 * every acknowledged contributor; missed = members that did not sign; blamed,
 * refused and far-group members from the checkpoint body; missed = members
 * without a receipt (E's rule since the seed became the co-signed core: not "did
 * not co-sign", which the appending member could choose).
 *
 * Censorship (issue #5, "a censoring leader"): the leader's plan may omit a
 * contributor whose shares the receipts show delivered. Members accept such a
 * plan (plan.ts `checkPlan` checks only what the plan contains) and E's evidence
 * still credits the omitted contributor for its delivered shares, so nothing
 * charges the leader. The audit here is the check a verifier can run on public
 * data: the receipts' masked norm points decide every contributor's verdict
 * (plan.ts `normVerdicts`, a pure function of receipts and contributions); a
 * contributor the public verdicts admit that is neither in the plan's groups nor
 * in its refusals was censored, and the leader is blamed for it (reason
 * 'censoring'). docs/architecture/harness.md states what the round protocol and
 * the ledger would need to make this rule binding.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { comparePeerIds } from '../../reputation/peer-id.ts'
import { computeReputation } from '../../reputation/compute.ts'
import type { RoundEvidence, PeerReputation } from '../../reputation/types.ts'

export interface RoundView {
  round: number
  /** Committee in committee order, leader first. */
  committee: readonly string[]
  /** Receipts: member -> contributors whose shares it acknowledged. */
  receipts: ReadonlyMap<string, readonly string[]>
  /** Contributors the public norm verdicts (receipts' masked points) admit. */
  admitted: readonly string[]
  /** The plan's groups (contributors), and its refusals. */
  planGroups: ReadonlyArray<readonly string[]>
  planRefused: ReadonlyArray<{ peer: string, reason: string }>
  /** Checkpoint blame and far-group members. */
  blamed: ReadonlyArray<{ peer: string, reason: string }>
  far: ReadonlyArray<readonly string[]>
}

/** Contributors admitted by the public verdicts but absent from the plan (groups and refusals), in peer-id order. */
export function censoredContributors(v: Pick<RoundView, 'admitted' | 'planGroups' | 'planRefused'>): string[] {
  const accounted = new Set<string>([...v.planGroups.flat(), ...v.planRefused.map(r => r.peer)])
  return [...new Set(v.admitted)].filter(c => !accounted.has(c)).sort(comparePeerIds)
}

export interface AuditedEvidence {
  evidence: RoundEvidence
  censored: string[]
  /** The leader, when the audit blamed it for censoring. */
  chargedLeader: string | null
}

/**
 * E's RoundEvidence of the round; with `audit`, a leader whose plan censored a
 * contributor is added to the blamed peers (and so earns no participation reward
 * and the blame penalty, src/reputation/compute.ts).
 */
export function roundEvidence(v: RoundView, audit = true): AuditedEvidence {
  if (v.committee.length === 0) throw new InvalidParametersError('round view: empty committee')
  const delivered: Record<string, number> = {}
  for (const member of [...v.receipts.keys()].sort(comparePeerIds)) {
    if (!v.committee.includes(member)) continue
    const acks = v.receipts.get(member)!
    delivered[member] = (delivered[member] ?? 0) + acks.length
    for (const c of acks) delivered[c] = (delivered[c] ?? 0) + 1
  }
  const censored = censoredContributors(v)
  const blamed = new Set(v.blamed.map(b => b.peer))
  const leader = v.committee[0]!
  const chargedLeader = audit && censored.length > 0 ? leader : null
  if (chargedLeader !== null) blamed.add(chargedLeader)
  const evidence: RoundEvidence = {
    round: v.round,
    committee: [...v.committee],
    contributors: v.planGroups.flat(),
    delivered,
    blamed: [...blamed].sort(comparePeerIds),
    missed: v.committee.filter(p => !v.receipts.has(p)),
    farGroupMembers: [...new Set(v.far.flat())].sort(comparePeerIds),
    refused: v.planRefused.map(r => r.peer).filter(p => !v.planGroups.some(g => g.includes(p)))
  }
  return { evidence, censored, chargedLeader }
}

/** Reputation of `peers` (all members since round 0) after the given rounds of evidence. */
export function reputationAfter(history: readonly RoundEvidence[], peers: readonly string[]): Map<string, PeerReputation> {
  return computeReputation(history, peers.map(peer => ({ peer, joinedRound: 0 })))
}
