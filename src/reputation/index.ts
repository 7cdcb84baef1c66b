/**
 * Reputation: a pure, deterministic function of the ledger's round evidence that
 * scores peers, gates committee eligibility and weights committee selection, with
 * decay, Sybil throttling and permanent exclusion of equivocators.
 * See docs/architecture/reputation.md.
 */
export type { MemberInfo, RoundEvidence, PeerReputation } from './types.ts'
export type { ReputationParams } from './params.ts'
export { DEFAULT_REPUTATION_PARAMS, resolveReputationParams } from './params.ts'
export { computeReputation, committeeCandidates, ReputationAccumulator } from './compute.ts'
export { InvalidPeerIdError, isPeerId, assertPeerId, peerIdBytes, comparePeerIds } from './peer-id.ts'
export { LocalReputation, DEFAULT_LOCAL_REPUTATION, resolveLocalReputationParams, type LocalReputationParams, type LocalPeerScore } from './local.ts'
export { persistentOutliers, OutlierAccumulator, ownProjections, conclusivelyNegative, resolveOutlierParams, DEFAULT_OUTLIER_PARAMS, type OutlierParams, type OutlierRound } from './outliers.ts'
export { PROJECTION_SCALE, PROJECTION_SCALE_BITS, MAX_PROJECTION_Q, InvalidProjectionsError, encodeProjection, decodeProjection, checkpointProjections, checkProjections, checkpointEvidence } from './outlier-evidence.ts'
