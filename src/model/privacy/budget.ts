/**
 * Planning DP-SGD against a budget: the largest number of sampled-Gaussian steps
 * whose epsilon (at delta) stays within a target.
 *
 * RDP composes linearly (Mironov 2017, Prop. 1): T steps at order alpha cost
 * T r(alpha). With the improved conversion (Canonne, Kamath, Steinke 2020,
 * Prop. 12) epsilon(T) = min_alpha [T r(alpha) + c(alpha)] with
 * c(alpha) = log(1 - 1/alpha) - (log delta + log alpha)/(alpha - 1), so
 * epsilon(T) <= target iff some order has T <= (target - c(alpha)) / r(alpha).
 * The answer is the floor of the best such bound, then checked (and corrected by
 * at most a few steps for rounding) against `epsilonFromRdp`, the function the
 * harness reports with: the returned T always satisfies epsilon(T) <= target and
 * epsilon(T + 1) > target.
 */
import { InvalidPrivacyParameterError, requireInRange } from './errors.ts'
import { computeRdp, DP_SGD_ORDERS, validateOrders } from './rdp.ts'
import { epsilonFromRdp } from './conversion.ts'
import { MAX_STEPS } from './dpsgd.ts'

export interface StepBudgetParams {
  /** Sampling rate q in (0, 1]. */
  readonly samplingRate: number
  /** Noise multiplier z > 0. */
  readonly noiseMultiplier: number
  /** Target epsilon > 0. */
  readonly epsilon: number
  /** delta in (0, 1). */
  readonly delta: number
  /** RDP orders (default DP_SGD_ORDERS, the list the harness reports with). */
  readonly orders?: ArrayLike<number>
}

export interface StepBudget {
  /** Largest T with epsilon(T) <= target (0 if even one step exceeds it); capped at MAX_STEPS. */
  readonly steps: number
  /** epsilon after `steps` steps (0 when steps = 0). */
  readonly epsilon: number
}

function epsilonAfter(q: number, z: number, steps: number, orders: ArrayLike<number>, delta: number): number {
  if (steps === 0) return 0
  return epsilonFromRdp(orders, computeRdp(q, z, steps, orders), delta).epsilon
}

/** The largest step count of the sampled Gaussian mechanism (q, z) with epsilon <= target at delta. */
export function maxStepsForEpsilon(p: StepBudgetParams): StepBudget {
  if (p === null || typeof p !== 'object') throw new InvalidPrivacyParameterError('step budget parameters must be an object')
  const q = requireInRange('sampling rate', p.samplingRate, 0, 1, { loOpen: true })
  const z = requireInRange('noise multiplier', p.noiseMultiplier, 0, Infinity, { loOpen: true, hiOpen: true })
  const target = requireInRange('epsilon', p.epsilon, 0, Infinity, { loOpen: true, hiOpen: true })
  const delta = requireInRange('delta', p.delta, 0, 1, { loOpen: true, hiOpen: true })
  const orders = p.orders ?? DP_SGD_ORDERS
  validateOrders(orders)
  const per = computeRdp(q, z, 1, orders)
  let best = 0
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!
    const r = per[k]!
    if (!(a > 1.01) || a === Infinity || !(r > 0) || r === Infinity) continue
    const c = Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1)
    const t = Math.floor((target - c) / r)
    if (t > best) best = t
  }
  let steps = Math.min(best, MAX_STEPS)
  // Correct the closed form for floating-point rounding: a handful of steps at most.
  for (let guard = 0; guard < 64 && steps > 0 && epsilonAfter(q, z, steps, orders, delta) > target; guard++) steps--
  for (let guard = 0; guard < 64 && steps < MAX_STEPS && epsilonAfter(q, z, steps + 1, orders, delta) <= target; guard++) steps++
  return { steps, epsilon: epsilonAfter(q, z, steps, orders, delta) }
}
