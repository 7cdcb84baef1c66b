/**
 * Peer-level ("user-level") accounting for Tessera's rounds.
 *
 * In a round, a contributing peer clips its whole model update to l2 norm C and
 * adds Gaussian noise; a group sum of g such updates is revealed, and the robust
 * aggregate over group means is post-processing of the group sums. Adding or
 * removing one peer changes exactly one group sum, by at most C, so one round in
 * which the peer contributes is a Gaussian mechanism with sensitivity C. If that
 * group sum carries noise of standard deviation at least z*C (z = the charter's
 * noise multiplier), the round is (alpha, alpha/(2 z^2))-RDP for the peer
 * (the Gaussian mechanism, Mironov 2017), and rounds compose additively in RDP. This is the
 * DP-FedAvg view of McMahan, Ramage, Talwar, Zhang 2018 ("Learning
 * Differentially Private Recurrent Language Models", ICLR 2018), where the unit
 * of privacy is the participant rather than one record.
 *
 * Two accountings are offered; docs/architecture/privacy.md states when each holds.
 * - `peerEpsilonKnownRounds`: the rounds the peer took part in are public (they
 *   are, on Tessera's ledger); k rounds compose k Gaussian mechanisms.
 * - `peerEpsilonPoisson`: each of R rounds includes the peer independently with
 *   probability q (Poisson subsampling) and an adversary does NOT learn which
 *   rounds did; amplification by subsampling applies (sampled Gaussian
 *   mechanism, MTZ 2019). Against anyone who reads the ledger, it does not.
 */
import { InvalidPrivacyParameterError, requireInRange, requireNonNegativeInteger } from './errors.ts'
import { computeRdp, DEFAULT_RDP_ORDERS, validateOrders } from './rdp.ts'
import { epsilonFromRdp, type EpsilonResult } from './conversion.ts'

/**
 * Standard deviation of the Gaussian noise each member of a group adds to its
 * clipped update, so that the group sum carries std >= z*C whenever at least
 * `minHonest` of its `groupSize` members add their noise honestly:
 *
 *     s = z * C / sqrt(minHonest)
 *
 * Derivation: independent N(0, s^2) draws from k members sum to N(0, k s^2); the
 * worst admissible case is k = minHonest, and k s^2 >= (z C)^2 gives the formula.
 * Members who collude with the adversary know their own noise and can subtract
 * it, so only non-colluding members count; the peer whose privacy is at stake
 * counts itself among them (minHonest = 1 means each peer adds the full z*C).
 * With all g members honest the sum carries z*C*sqrt(g/minHonest): the utility
 * price of tolerating g - minHonest silent members.
 */
export function perMemberNoiseStd(clipNorm: number, noiseMultiplier: number, groupSize: number, minHonest: number): number {
  requireInRange('clip norm C', clipNorm, 0, Infinity, { loOpen: true, hiOpen: true })
  requireInRange('noise multiplier z', noiseMultiplier, 0, Infinity, { hiOpen: true })
  requireNonNegativeInteger('group size g', groupSize, 1 << 20)
  requireNonNegativeInteger('minimum honest members', minHonest, 1 << 20)
  if (groupSize < 1) throw new InvalidPrivacyParameterError(`group size g must be >= 1, got ${groupSize}`)
  if (minHonest < 1 || minHonest > groupSize) {
    throw new InvalidPrivacyParameterError(`minimum honest members must be in [1, g = ${groupSize}], got ${minHonest}`)
  }
  return noiseMultiplier * clipNorm / Math.sqrt(minHonest)
}

/**
 * Effective noise multiplier of a group sum to which `noisers` members added
 * N(0, s^2) each, with s = perMemberNoiseStd(C, z, g, minHonest): z * sqrt(noisers / minHonest).
 * Below minHonest noisers the charter's guarantee z no longer holds for that round.
 */
export function groupSumNoiseMultiplier(noiseMultiplier: number, noisers: number, minHonest: number): number {
  requireInRange('noise multiplier z', noiseMultiplier, 0, Infinity, { hiOpen: true })
  requireNonNegativeInteger('noisers', noisers, 1 << 20)
  requireNonNegativeInteger('minimum honest members', minHonest, 1 << 20)
  if (minHonest < 1) throw new InvalidPrivacyParameterError(`minimum honest members must be >= 1, got ${minHonest}`)
  return noiseMultiplier * Math.sqrt(noisers / minHonest)
}

export interface PeerPoissonParams {
  /** q_user: probability that the peer takes part in a given round, in [0, 1]. */
  readonly participation: number
  /** z: noise multiplier of the group sum (noise std / clip norm). */
  readonly noiseMultiplier: number
  /** R: number of rounds. */
  readonly rounds: number
  /** Target delta in (0, 1). */
  readonly delta: number
  readonly orders?: ArrayLike<number>
}

/**
 * Epsilon for one peer after R rounds, each of which includes it with
 * probability q_user, its group sum carrying noise multiplier z. Valid only
 * if the adversary does not learn which rounds included the peer.
 */
export function peerEpsilonPoisson(p: PeerPoissonParams): EpsilonResult {
  if (p === null || typeof p !== 'object') throw new InvalidPrivacyParameterError('parameters must be an object')
  requireInRange('participation q_user', p.participation, 0, 1)
  requireInRange('noise multiplier z', p.noiseMultiplier, 0, Infinity, { hiOpen: true })
  requireNonNegativeInteger('rounds', p.rounds, 1e12)
  requireInRange('delta', p.delta, 0, 1, { loOpen: true, hiOpen: true })
  const orders = p.orders ?? DEFAULT_RDP_ORDERS
  validateOrders(orders)
  const rdp = computeRdp(p.participation, p.noiseMultiplier, p.rounds, orders)
  return epsilonFromRdp(orders, rdp, p.delta)
}

export interface PeerKnownRoundsParams {
  /** Number of rounds the peer contributed to (public on the ledger). */
  readonly roundsTaken: number
  readonly noiseMultiplier: number
  readonly delta: number
  readonly orders?: ArrayLike<number>
}

/** Epsilon for one peer that contributed to `roundsTaken` rounds whose participation is public: a k-fold Gaussian composition. */
export function peerEpsilonKnownRounds(p: PeerKnownRoundsParams): EpsilonResult {
  if (p === null || typeof p !== 'object') throw new InvalidPrivacyParameterError('parameters must be an object')
  requireNonNegativeInteger('rounds taken', p.roundsTaken, 1e12)
  requireInRange('noise multiplier z', p.noiseMultiplier, 0, Infinity, { hiOpen: true })
  requireInRange('delta', p.delta, 0, 1, { loOpen: true, hiOpen: true })
  const orders = p.orders ?? DEFAULT_RDP_ORDERS
  validateOrders(orders)
  const rdp = computeRdp(1, p.noiseMultiplier, p.roundsTaken, orders)
  return epsilonFromRdp(orders, rdp, p.delta)
}
