/**
 * Differential-privacy accounting for Tessera (pure; runs in Node and the browser).
 * See docs/architecture/privacy.md.
 */
export { InvalidPrivacyParameterError, PrivacyLedgerError } from './errors.ts'
export { logAdd, logSub, logSumExp, logErfc, erfc } from './logmath.ts'
export {
  computeRdp, rdpSampledGaussianAt, logAInteger, validateOrders,
  DEFAULT_RDP_ORDERS, TF_TUTORIAL_ORDERS, DP_SGD_ORDERS, MAX_INTEGER_ORDER, MAX_FRAC_TERMS,
  type FractionalSeries, type RdpOptions
} from './rdp.ts'
export { epsilonFromRdp, deltaFromRdp, type EpsilonResult, type DeltaResult, type Conversion } from './conversion.ts'
export { computeDpSgdPrivacy, validateDpSgdParams, type DpSgdParams, type DpSgdPrivacy } from './dpsgd.ts'
export {
  perMemberNoiseStd, groupSumNoiseMultiplier, peerEpsilonPoisson, peerEpsilonKnownRounds,
  type PeerPoissonParams, type PeerKnownRoundsParams
} from './user-level.ts'
export { PrivacyLedger, ledgerFromRounds, type Mechanism, type LedgerEntry, type PrivacyLedgerConfig, type PrivacyUnit, type BudgetCheck } from './ledger.ts'
export {
  membershipAuc, maxMembershipAdvantage, advantageAtThreshold, evaluateMembershipInference, maxAdvantageUnderDp,
  type ThresholdResult, type MembershipReport
} from './membership.ts'
