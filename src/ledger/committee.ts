/**
 * The ledger side of the contract with src/reputation and src/gossip-fl/committee.ts:
 * what the ledger determines about a round, from the ledger alone.
 *
 *   seed(1, 0) = SHA-256 of the genesis entry's bytes (the digest in its CID)
 *   seed(r, 0) = SHA-256(cosigningMessage(core of checkpoint r-1)): the checkpoint without its co-signatures
 *   seed(r, k) = SHA-256("tessera/retry/v1" || seed(r, 0) || k as uint32 big-endian)
 *   committee(r, k) = selectCommittee(seed(r, k), candidates(r), min(m, |candidates(r)|))
 *   candidates(1) = the charter's founders (the genesis author if none), weight 1
 *   candidates(r) = committeeCandidates(computeReputation(evidence of rounds < r, members as of checkpoint r-1))
 *
 * Peers are lowercase hex of their Ed25519 public keys. See LedgerState for how
 * evidence and membership are fixed by checkpoint coverage.
 */
import type { MemberInfo, RoundEvidence } from '../reputation/index.ts'
import type { LedgerState } from './state.ts'

export { retrySeed, checkpointSeed, genesisSeed } from './state.ts'

/** The committee of (round, retry), leader first. Throws LedgerVerificationError('committee' | 'reference'). */
export function committeeForRound(state: LedgerState, round: number, retry = 0): string[] {
  return state.committee(round, retry)
}

/** The seed of (round, retry). */
export function roundSeed(state: LedgerState, round: number, retry = 0): Uint8Array {
  return state.seed(round, retry)
}

/** Evidence of every checkpointed round, in round order (RoundEvidence[] for computeReputation). */
export function roundEvidence(state: LedgerState): RoundEvidence[] {
  return [...state.evidence]
}

/** Members whose admission checkpoint `asOfRound` covers, with joinedRound / excludedAtRound. */
export function memberInfo(state: LedgerState, asOfRound = state.lastRound): MemberInfo[] {
  return state.memberInfo(asOfRound)
}
