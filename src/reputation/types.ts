/**
 * The reputation contract between the ledger (src/ledger, which extracts evidence
 * from co-signed round checkpoints) and this module. Peers are the lowercase hex of
 * their 32-byte Ed25519 public keys.
 */

/** A member of the network as the ledger's join/admit and equivocation entries describe it. */
export type MemberInfo = {
  peer: string
  /** Round whose checkpoint first records the peer's admission. */
  joinedRound: number
  /**
   * Round whose checkpoint first records an equivocation proof against the peer.
   * The peer has weight 0 and is ineligible for every round after it, forever.
   */
  excludedAtRound?: number
}

/** What one round's checkpoint says about its participants. */
export type RoundEvidence = {
  round: number
  /** That round's committee, in committee order. */
  committee: string[]
  /** Contributors whose updates were planned into a group. */
  contributors: string[]
  /** Shares (contributors) and partial sums (members) each peer delivered that round. */
  delivered: Record<string, number>
  /** Peers provably at fault (inconsistent partial sums, bad shares). */
  blamed: string[]
  /** Peers that missed a deadline they were bound by. */
  missed: string[]
  /** Contributors whose group sum lay far from the robust aggregate. */
  farGroupMembers: string[]
  /** Contributors whose update failed the norm check. */
  refused: string[]
}

export type PeerReputation = {
  /** Beta-reputation expectation (r + 1) / (r + s + 2), in (0, 1). */
  score: number
  /** Committee-selection weight, >= 0; 0 when not eligible. */
  weight: number
  /** May sit on a committee: not excluded and score >= minScore. */
  eligible: boolean
}
