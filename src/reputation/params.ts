/**
 * Reputation parameters (House style 7: defaults, then merge, then validate).
 * The defaults and the reasons for them are in docs/architecture/reputation.md.
 */
import { InvalidParametersError } from '../util/errors.ts'

export type ReputationParams = {
  /** Forgetting factor lambda per round, in (0, 1] (Josang and Ismail 2002, section 4). */
  decay: number
  /** Positive evidence for one round of full delivery in the peer's role(s). */
  participationReward: number
  /** Negative evidence per round for provable misbehaviour (blame). */
  blamePenalty: number
  /** Negative evidence per missed deadline. */
  missedPenalty: number
  /** Negative evidence per refused (over-norm) update. */
  refusedPenalty: number
  /** Negative evidence per membership of a group far from the aggregate. */
  farGroupPenalty: number
  /** Eligibility threshold on the score, in [0, 1). */
  minScore: number
  /** K: rounds of honest participation before an identity has full weight and is no longer young. */
  rampRounds: number
  /** phi: the largest share of total weight that young identities may hold together, in (0, 1]. */
  youngWeightCap: number
  /**
   * T: tiers of the throttle. Identities with fewer than j*K honest rounds hold at
   * most j*phi of all weight, for j = 1..T (T = 1: only the young are capped).
   */
  capTiers: number
  /**
   * The round whose committee these reputations are for; evidence must be from
   * earlier rounds. Default: one past the last round in the history (0 if none).
   */
  round?: number
}

export const DEFAULT_REPUTATION_PARAMS: Readonly<ReputationParams> = Object.freeze({
  decay: 0.95,
  participationReward: 1,
  blamePenalty: 20,
  missedPenalty: 1,
  refusedPenalty: 4,
  farGroupPenalty: 1,
  minScore: 0.3,
  rampRounds: 10,
  youngWeightCap: 0.1,
  capTiers: 5,
})

const KEYS = new Set(['decay', 'participationReward', 'blamePenalty', 'missedPenalty', 'refusedPenalty', 'farGroupPenalty', 'minScore', 'rampRounds', 'youngWeightCap', 'capTiers', 'round'])

/** Upper bound on evidence weights, keeping every sum far from overflow. */
const MAX_EVIDENCE_WEIGHT = 1e6
export const MAX_RAMP_ROUNDS = 1_000_000

function finite(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidParametersError(`reputation.${name} must be a finite number, got ${String(v)}`)
  return v
}

/** Merge `overrides` onto the defaults and validate; throws InvalidParametersError. */
export function resolveReputationParams(overrides?: Partial<ReputationParams>): ReputationParams {
  if (overrides !== undefined && (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))) {
    throw new InvalidParametersError('reputation params must be an object')
  }
  for (const k of Object.keys(overrides ?? {})) {
    if (!KEYS.has(k)) throw new InvalidParametersError(`unknown reputation parameter '${k}'`)
  }
  const p: ReputationParams = { ...DEFAULT_REPUTATION_PARAMS }
  for (const [k, v] of Object.entries(overrides ?? {})) {
    if (v !== undefined) (p as Record<string, unknown>)[k] = v
  }
  const decay = finite('decay', p.decay)
  if (!(decay > 0 && decay <= 1)) throw new InvalidParametersError(`reputation.decay must be in (0, 1], got ${decay}`)
  for (const k of ['participationReward', 'blamePenalty', 'missedPenalty', 'refusedPenalty', 'farGroupPenalty'] as const) {
    const v = finite(k, p[k])
    if (v < 0 || v > MAX_EVIDENCE_WEIGHT) throw new InvalidParametersError(`reputation.${k} must be in [0, ${MAX_EVIDENCE_WEIGHT}], got ${v}`)
  }
  const minScore = finite('minScore', p.minScore)
  if (!(minScore >= 0 && minScore < 1)) throw new InvalidParametersError(`reputation.minScore must be in [0, 1), got ${minScore}`)
  if (!Number.isSafeInteger(p.rampRounds) || p.rampRounds < 0 || p.rampRounds > MAX_RAMP_ROUNDS) {
    throw new InvalidParametersError(`reputation.rampRounds must be an integer in [0, ${MAX_RAMP_ROUNDS}], got ${String(p.rampRounds)}`)
  }
  const cap = finite('youngWeightCap', p.youngWeightCap)
  if (!(cap > 0 && cap <= 1)) throw new InvalidParametersError(`reputation.youngWeightCap must be in (0, 1], got ${cap}`)
  if (!Number.isSafeInteger(p.capTiers) || p.capTiers < 1 || p.capTiers > 1000) {
    throw new InvalidParametersError(`reputation.capTiers must be an integer in [1, 1000], got ${String(p.capTiers)}`)
  }
  if (p.round !== undefined && (!Number.isSafeInteger(p.round) || p.round < 0)) {
    throw new InvalidParametersError(`reputation.round must be an integer >= 0, got ${String(p.round)}`)
  }
  return p
}
