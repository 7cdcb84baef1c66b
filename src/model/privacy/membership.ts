/**
 * Membership-inference evaluation: the loss-threshold attack of Yeom, Giacomelli,
 * Fredrikson, Jha 2018 ("Privacy Risk in Machine Learning: Analyzing the
 * Connection to Overfitting", CSF 2018). The attacker guesses "member" when an
 * example's loss under the model is at most a threshold tau, since training
 * examples tend to have lower loss.
 *
 * From the per-example losses of members (training examples) and non-members
 * (held-out examples) this module computes:
 * - the ROC AUC of the score -loss: P(loss_member < loss_nonmember) + 1/2 P(equal)
 *   (the Mann-Whitney U statistic divided by n_m n_n), computed exactly by sorting;
 * - the membership advantage TPR - FPR (Yeom et al. Def. 4 for a fixed attack) at a
 *   given threshold, at Yeom's threshold (the mean member loss, their "expected
 *   training loss"), and its maximum over all thresholds with the threshold that
 *   attains it. The maximum is picked on the evaluation data itself, so it is an
 *   optimistic (attacker-favourable) estimate; choose tau on separate data and call
 *   `advantageAtThreshold` for an unbiased one.
 * - `maxAdvantageUnderDp(eps, delta)`: the largest advantage any attack can have
 *   against an (eps, delta)-DP training run, (e^eps - 1 + 2 delta)/(e^eps + 1),
 *   from the hypothesis-testing region of DP (Kairouz, Oh, Viswanath 2015):
 *   TPR <= e^eps FPR + delta and 1 - FPR <= e^eps (1 - TPR) + delta.
 *
 * Pure: typed arrays in, numbers out; O((n_m + n_n) log(n_m + n_n)).
 */
import { InvalidPrivacyParameterError, requireFinite } from './errors.ts'

/** Largest number of losses per side (sorting 2^26 doubles needs ~0.5 GiB). */
export const MAX_LOSSES = 1 << 26

export interface ThresholdResult {
  readonly threshold: number
  /** Fraction of members with loss <= threshold. */
  readonly tpr: number
  /** Fraction of non-members with loss <= threshold. */
  readonly fpr: number
  /** tpr - fpr. */
  readonly advantage: number
}

export interface MembershipReport {
  readonly auc: number
  /** Best threshold on these data (optimistic). */
  readonly best: ThresholdResult
  /** Yeom et al.'s threshold: the mean member loss. */
  readonly yeom: ThresholdResult
  readonly members: number
  readonly nonMembers: number
}

function sortedLosses(name: string, xs: ArrayLike<number>): Float64Array {
  if (xs === null || typeof xs !== 'object' || typeof xs.length !== 'number') {
    throw new InvalidPrivacyParameterError(`${name} must be an array of losses`)
  }
  const n = xs.length
  if (!Number.isInteger(n) || n < 1) throw new InvalidPrivacyParameterError(`${name} must hold at least one loss`)
  if (n > MAX_LOSSES) throw new InvalidPrivacyParameterError(`${name}: at most ${MAX_LOSSES} losses, got ${n}`)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const v = xs[i]
    // +Infinity is a legitimate loss (-log 0); NaN and -Infinity are not.
    if (typeof v !== 'number' || Number.isNaN(v) || v === -Infinity) {
      throw new InvalidPrivacyParameterError(`${name}[${i}] must be a number or +Infinity, got ${String(v)}`)
    }
    out[i] = v
  }
  return out.sort()
}

/** Number of entries of sorted `a` that are <= x (upper bound by binary search). */
function countAtMost(a: Float64Array, x: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** AUC of the loss-threshold attack (0.5 = chance, 1 = every member has a lower loss than every non-member). */
export function membershipAuc(memberLosses: ArrayLike<number>, nonMemberLosses: ArrayLike<number>): number {
  return aucSorted(sortedLosses('member losses', memberLosses), sortedLosses('non-member losses', nonMemberLosses))
}

function aucSorted(m: Float64Array, n: Float64Array): number {
  // Walk both sorted lists; for each run of equal member values count the
  // non-members strictly above (wins) and equal (ties).
  let wins = 0
  let ties = 0
  let j = 0 // first non-member index with value >= current member value
  let i = 0
  while (i < m.length) {
    const v = m[i]!
    let run = 1
    while (i + run < m.length && m[i + run] === v) run++
    while (j < n.length && n[j]! < v) j++
    let k = j
    while (k < n.length && n[k] === v) k++
    wins += run * (n.length - k)
    ties += run * (k - j)
    i += run
  }
  return (wins + 0.5 * ties) / (m.length * n.length)
}

/** TPR, FPR and advantage of the attack "member iff loss <= threshold". */
export function advantageAtThreshold(memberLosses: ArrayLike<number>, nonMemberLosses: ArrayLike<number>, threshold: number): ThresholdResult {
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) throw new InvalidPrivacyParameterError(`threshold must be a number, got ${String(threshold)}`)
  const m = sortedLosses('member losses', memberLosses)
  const n = sortedLosses('non-member losses', nonMemberLosses)
  return atThreshold(m, n, threshold)
}

function atThreshold(m: Float64Array, n: Float64Array, threshold: number): ThresholdResult {
  const tpr = countAtMost(m, threshold) / m.length
  const fpr = countAtMost(n, threshold) / n.length
  return { threshold, tpr, fpr, advantage: tpr - fpr }
}

function bestSorted(m: Float64Array, n: Float64Array): ThresholdResult {
  // TPR - FPR only changes at observed losses; tau = -Infinity gives 0.
  let best: ThresholdResult = { threshold: -Infinity, tpr: 0, fpr: 0, advantage: 0 }
  let i = 0
  let j = 0
  while (i < m.length || j < n.length) {
    const v = j >= n.length || (i < m.length && m[i]! <= n[j]!) ? m[i]! : n[j]!
    while (i < m.length && m[i]! <= v) i++
    while (j < n.length && n[j]! <= v) j++
    const tpr = i / m.length
    const fpr = j / n.length
    if (tpr - fpr > best.advantage) best = { threshold: v, tpr, fpr, advantage: tpr - fpr }
  }
  return best
}

/** The largest TPR - FPR over all thresholds, and the threshold that attains it (optimistic: chosen on these data). */
export function maxMembershipAdvantage(memberLosses: ArrayLike<number>, nonMemberLosses: ArrayLike<number>): ThresholdResult {
  return bestSorted(sortedLosses('member losses', memberLosses), sortedLosses('non-member losses', nonMemberLosses))
}

/** AUC, best-threshold advantage and Yeom et al.'s mean-training-loss threshold, in one pass over sorted copies. */
export function evaluateMembershipInference(memberLosses: ArrayLike<number>, nonMemberLosses: ArrayLike<number>): MembershipReport {
  const m = sortedLosses('member losses', memberLosses)
  const n = sortedLosses('non-member losses', nonMemberLosses)
  let sum = 0
  for (let i = 0; i < m.length; i++) sum += m[i]!
  const mean = sum / m.length // Infinity if a member loss is infinite: the attack then calls everything a member
  return { auc: aucSorted(m, n), best: bestSorted(m, n), yeom: atThreshold(m, n, mean), members: m.length, nonMembers: n.length }
}

/** Upper bound on the membership advantage of any attack against an (eps, delta)-DP mechanism: (e^eps - 1 + 2 delta)/(e^eps + 1). */
export function maxAdvantageUnderDp(epsilon: number, delta: number): number {
  requireFinite('epsilon', epsilon)
  requireFinite('delta', delta)
  if (epsilon < 0) throw new InvalidPrivacyParameterError(`epsilon must be >= 0, got ${epsilon}`)
  if (delta < 0 || delta > 1) throw new InvalidPrivacyParameterError(`delta must be in [0, 1], got ${delta}`)
  // tanh(eps/2) = (e^eps - 1)/(e^eps + 1) without overflow for large eps.
  const bound = Math.tanh(epsilon / 2) + 2 * delta / (Math.exp(epsilon) + 1)
  return Math.min(1, bound)
}
