/**
 * From Rényi DP to (epsilon, delta)-DP.
 *
 * If a mechanism is (alpha, r)-RDP then it is (epsilon, delta)-DP with
 *
 *     epsilon = r + log((alpha - 1)/alpha) - (log(delta) + log(alpha)) / (alpha - 1)
 *
 * (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for Differential Privacy",
 * arXiv:2004.00010 v4, Proposition 12; Balle, Barthe, Gaboardi, Hsu, Sato 2020,
 * "Hypothesis testing interpretations and Rényi differential privacy",
 * AISTATS 2020; also Asoodeh et al. 2020, arXiv:2001.05990 v1, Eq. 20). It improves on the classic bound
 * epsilon = r + log(1/delta)/(alpha - 1) (Mironov 2017, arXiv:1702.07476 v3, Proposition 3), which we
 * keep for comparison with older published numbers.
 *
 * Since D_alpha is non-decreasing in alpha, r also bounds the KL divergence, and
 * the Bretagnolle-Huber inequality TV <= sqrt(1 - exp(-KL)) gives (0, delta)-DP
 * as soon as sqrt(1 - exp(-r)) <= delta; both bounds are taken and the best
 * order wins. These are the conversions TF Privacy / dp_accounting use
 * (`compute_epsilon`, `compute_delta`), including their choice to skip the
 * Proposition-12 formula for orders <= 1.01, where it is numerically unstable.
 */
import { InvalidPrivacyParameterError, requireFinite, requireInRange } from './errors.ts'

export interface EpsilonResult {
  /** The smallest epsilon over the orders (>= 0; +Infinity if every order gives Infinity). */
  readonly epsilon: number
  /** The order that achieved it (NaN if epsilon is Infinity). */
  readonly order: number
}

export interface DeltaResult {
  /** The smallest delta over the orders, at most 1. */
  readonly delta: number
  /** The order that achieved it (NaN if delta is 1 from every order). */
  readonly order: number
}

export type Conversion = 'improved' | 'classic'

const MIN_ORDER_FOR_PROP12 = 1.01

function checkCurve(orders: ArrayLike<number>, rdp: ArrayLike<number>): void {
  if (orders === null || typeof orders !== 'object' || typeof orders.length !== 'number') throw new InvalidPrivacyParameterError('orders must be an array of numbers')
  if (rdp === null || typeof rdp !== 'object' || typeof rdp.length !== 'number') throw new InvalidPrivacyParameterError('rdp must be an array of numbers')
  if (orders.length !== rdp.length) {
    throw new InvalidPrivacyParameterError(`orders and rdp must have the same length, got ${orders.length} and ${rdp.length}`)
  }
  if (orders.length === 0) throw new InvalidPrivacyParameterError('orders must not be empty')
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]
    const r = rdp[k]
    if (typeof a !== 'number' || Number.isNaN(a) || a < 1) throw new InvalidPrivacyParameterError(`Rényi order must be a number >= 1, got ${String(a)} at index ${k}`)
    if (typeof r !== 'number' || Number.isNaN(r) || r < 0) throw new InvalidPrivacyParameterError(`Rényi divergence must be a number >= 0 (Infinity allowed), got ${String(r)} at index ${k}`)
  }
}

/**
 * The best epsilon for a target delta over an RDP curve (orders[k], rdp[k]).
 * delta must be in (0, 1).
 */
export function epsilonFromRdp(orders: ArrayLike<number>, rdp: ArrayLike<number>, delta: number, conversion: Conversion = 'improved'): EpsilonResult {
  requireInRange('delta', delta, 0, 1, { loOpen: true, hiOpen: true })
  checkCurve(orders, rdp)
  let best = Infinity
  let bestOrder = Number.NaN
  const logDelta = Math.log(delta)
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!
    const r = rdp[k]!
    let eps: number
    if (r === Infinity) {
      eps = Infinity
    } else if (conversion === 'classic') {
      eps = a === Infinity ? r : (a > 1 ? r - logDelta / (a - 1) : Infinity)
    } else if (delta * delta + Math.expm1(-r) > 0) {
      eps = 0 // Bretagnolle-Huber: TV <= sqrt(1 - e^-r) < delta
    } else if (a === Infinity) {
      eps = r
    } else if (a > MIN_ORDER_FOR_PROP12) {
      eps = r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1)
    } else {
      eps = Infinity
    }
    if (eps < best) { best = eps; bestOrder = a }
  }
  return { epsilon: best === Infinity ? Infinity : Math.max(0, best), order: bestOrder }
}

/**
 * The best delta for a target epsilon >= 0 over an RDP curve: the inverse of
 * `epsilonFromRdp` (same bounds solved for delta).
 */
export function deltaFromRdp(orders: ArrayLike<number>, rdp: ArrayLike<number>, epsilon: number, conversion: Conversion = 'improved'): DeltaResult {
  requireFinite('epsilon', epsilon)
  if (epsilon < 0) throw new InvalidPrivacyParameterError(`epsilon must be >= 0, got ${epsilon}`)
  checkCurve(orders, rdp)
  let best = Infinity // log delta
  let bestOrder = Number.NaN
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!
    const r = rdp[k]!
    let logDelta: number
    if (r === Infinity) {
      logDelta = Infinity
    } else if (conversion === 'classic') {
      logDelta = a > 1 && a !== Infinity ? (a - 1) * (r - epsilon) : (r <= epsilon ? -Infinity : Infinity)
    } else {
      // Bretagnolle-Huber via KL <= D_alpha.
      logDelta = r === 0 ? -Infinity : 0.5 * Math.log(-Math.expm1(-r))
      if (a > MIN_ORDER_FOR_PROP12 && a !== Infinity) {
        logDelta = Math.min(logDelta, (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a))
      } else if (a === Infinity && r <= epsilon) {
        logDelta = -Infinity // pure (r, 0)-DP
      }
    }
    if (logDelta < best) { best = logDelta; bestOrder = a }
  }
  return { delta: Math.min(1, Math.exp(best)), order: best === Infinity ? Number.NaN : bestOrder }
}
